// End to end through the built CLI (issue 20, items 1 and 2): a name pattern with no per-file part on a
// channel with several files per message and per day, hostile same-name twins, case twins and forwards of
// archived attachments, run twice: as many files on disk as `saved` events, every event's path holds exactly
// its bytes, nothing overwritten, forwards linked without a download, nothing announced twice.

import { createHash } from 'node:crypto';
import { lstat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import type { AttachmentSpec, MessageSpec } from '../../fixtures/generate.js';
import { singleChannel } from '../../fixtures/scenarios.js';
import { listFiles } from '../helpers/harness.js';
import { fakeFor, firstTarget, ofEvent, runDps, schemaProblems, channelArgs } from './helpers.js';

const png = (filename: string, size: number): AttachmentSpec => ({ filename, contentType: 'image/png', size, width: 10, height: 10 });

t.test('{date} names, hostile twins and forwards: one file per saved event, each with its bytes, across two runs', async (t) => {
  const overrides: Record<number, MessageSpec> = {
    3: {
      content: 'twins',
      attachments: [png(`${'x'.repeat(300)}.png`, 1_001), png(`${'x'.repeat(300)}.png`, 1_002), png('a?.png', 1_003), png('a*.png', 1_004)],
    },
    4: { content: 'case twins', attachments: [png('A.png', 1_005), png('a.png', 1_006)] },
    6: { content: '', extras: [{ kind: 'forward', attachments: [], of: [{ index: 4, k: 1 }] }] },
  };
  const fake = await fakeFor(t, {
    scenario: singleChannel({ seed: 22, messages: 30, gapRate: 0, imageRatio: 1, spacingMs: 60_000, sizes: [500, 4_000], overrides }),
  });
  const { C } = firstTarget(fake);
  const dir = t.testdir();
  const out = join(dir, 'out');
  const args = [...channelArgs(fake, out, join(dir, 'state')), '--name-pattern', '{date}', '--concurrency', '32', '--types', 'all'];
  const run1 = await runDps(args, { env: { DISCORD_TOKEN: fake.token } });
  t.equal(run1.code, 0, `exit 0 (stderr: ${run1.stderr})`);
  fake.appendMessages(C, 10, { imageRatio: 1 }); // more files of the same day: every one renders to the same name
  const run2 = await runDps(args, { env: { DISCORD_TOKEN: fake.token } });
  t.equal(run2.code, 0, `exit 0 (stderr: ${run2.stderr})`);

  const saved = [...run1.lines, ...run2.lines].filter(ofEvent('saved'));
  t.same(
    saved.flatMap((line) => schemaProblems(line)),
    [],
    'documented events',
  );
  const expected = [...fake.expected({ channelId: C })];
  t.equal(saved.length, expected.length, `one saved event per file of the fake (${expected.length}), none twice`);
  t.equal(new Set(saved.map((e) => e.path)).size, saved.length, 'each on its own path');
  t.equal((await listFiles(out)).length, saved.length, 'files on disk == saved events');
  let exact = 0;
  for (const e of saved) {
    const digest = createHash('sha256')
      .update(await readFile(String(e.path)))
      .digest('hex');
    if (digest === e.sha256 && expected.some((x) => x.attachment_id === e.attachment_id && x.sha256 === digest)) exact++;
  }
  t.equal(exact, saved.length, 'every saved path holds exactly the bytes its event announces');

  const forward = saved.find((e) => e.source === 'forward');
  t.ok(forward?.duplicate_of, 'the forward is announced with duplicate_of');
  const original = saved.find((e) => e.source === 'attachment' && e.attachment_id === forward?.attachment_id);
  t.equal(forward?.duplicate_of, original?.path);
  const [a, b] = await Promise.all([lstat(String(forward?.path)), lstat(String(original?.path))]);
  t.ok(a.ino === b.ino && a.nlink === 2, 'the forward is a hard link of the one stored copy');
  t.equal(fake.requests.filter((r) => r.kind === 'cdn' && r.path.includes(`/${String(forward?.attachment_id)}/`)).length, 1, 'downloaded once');
});
