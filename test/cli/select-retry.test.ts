// The retry pass goes through the same selection as the walk: files that failed in an unfiltered run are retried
// by a later `--author A` run only if A posted them (the others are skipped `author` and stay queued), and a run
// without the filter retries the rest: the archive ends exact, nothing downloaded twice.

import t from 'tap';
import { join } from 'node:path';
import { buildScenario } from '../../fixtures/scenarios.js';
import { assertExact } from '../helpers/verify.js';
import { postedFiles } from '../helpers/posted-files.js';
import { fakeFor, firstTarget, ofEvent, rawLines, runDps } from './helpers.js';
import type { Line } from './helpers.js';

const attachmentOf = (path: string): string => /^\/(?:media\/)?attachments\/\d+\/(\d+)\//.exec(path)?.[1] ?? path;

t.test('failed files are retried only when the selection keeps them', async (t) => {
  const fake = await fakeFor(t, {
    scenario: buildScenario({ seed: 67, authors: 2, guilds: [{ channels: [{ name: 'general', messages: 80, imageRatio: 0.6, sizes: [1_000, 8_000] }] }] }),
    // Most CDN downloads answer 503 (Retry-After: 0): a good share of files fail all their attempts.
    faults: { error5xxRate: 0.85, seed: 5, target: 'cdn', cdnRetryAfterSec: 0 },
  });
  const { G, C } = firstTarget(fake);
  const dir = t.testdir();
  const args = ['--server-id', G, '--channel-id', C, '--api', fake.api, '--out', join(dir, 'out'), '--state', join(dir, 'state'), '--types', 'all'];
  const env = { DISCORD_TOKEN: fake.token };
  const files = await postedFiles(fake, C);
  const lines = (stdout: string) => rawLines(stdout).filter((l): l is Line => l !== null);
  const of = (stdout: string, event: string) => lines(stdout).filter(ofEvent(event));

  const first = await runDps(args, { env });
  t.equal(first.code, 1, 'the first run exits 1: files failed');
  const failed = of(first.stdout, 'failed').map((l) => String(l.attachment_id));
  const author = files.find((f) => failed.includes(f.attachment_id))!.author_id;
  const mine = failed.filter((id) => files.find((f) => f.attachment_id === id)?.author_id === author).sort();
  const others = failed.filter((id) => !mine.includes(id)).sort();
  t.ok(mine.length > 0 && others.length > 0, `failed files of the author (${mine.length}) and of others (${others.length})`);

  fake.setOption({ faults: {} });
  fake.resetLog();
  const second = await runDps([...args, '--author', author], { env });
  t.equal(second.code, 0, `the --author run exits 0 (${second.stderr})`);
  t.same(
    of(second.stdout, 'saved')
      .map((l) => String(l.attachment_id))
      .sort(),
    mine,
    "the retry pass saves exactly the author's failed files",
  );
  t.same(
    of(second.stdout, 'skipped')
      .filter((l) => l.reason === 'author')
      .map((l) => String(l.attachment_id))
      .sort(),
    others,
    'and skips the others as author',
  );
  t.same(
    fake.requests
      .filter((r) => r.kind === 'cdn')
      .map((r) => attachmentOf(r.path))
      .sort(),
    mine,
    'downloading only those',
  );

  fake.resetLog();
  const third = await runDps(args, { env });
  t.equal(third.code, 0, `the unfiltered run exits 0 (${third.stderr})`);
  t.same(
    of(third.stdout, 'saved')
      .map((l) => String(l.attachment_id))
      .sort(),
    others,
    'a run without the filter retries the rest',
  );
  await assertExact(t, fake, join(dir, 'out'), join(dir, 'state'), C);
});
