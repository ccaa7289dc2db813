// `dps retry-failed` end to end through the built CLI: a scrape whose downloads mostly fail (exit 1, failures
// recorded in the state), then `dps retry-failed` (exit 0) retries exactly those files, and the archive on disk
// equals the fake's expected set with no file downloaded twice. It also takes every flag `scrape` takes.

import t from 'tap';
import { join } from 'node:path';
import { singleChannel } from '../../fixtures/scenarios.js';
import { assertExact } from '../helpers/verify.js';
import { fakeFor, firstTarget, ofEvent, rawLines, runDps, schemaProblems } from './helpers.js';
import type { Line } from './helpers.js';

// The attachment id of a CDN request path (/attachments/:channel_id/:attachment_id/:filename).
const attachmentOf = (path: string): string | undefined => /^\/(?:media\/)?attachments\/\d+\/(\d+)\//.exec(path)?.[1];

t.test('scrape with injected failures (exit 1), then retry-failed (exit 0): exact archive, nothing downloaded twice', async (t) => {
  const fake = await fakeFor(t, {
    scenario: singleChannel({ seed: 31, messages: 60, imageRatio: 0.5, sizes: [1_000, 8_000] }),
    // 85% of CDN downloads answer 503 with Retry-After: 0, so a file fails all its 6 attempts about a third of
    // the time, without waiting out the backoff.
    faults: { error5xxRate: 0.85, seed: 4, target: 'cdn', cdnRetryAfterSec: 0 },
  });
  const { G, C } = firstTarget(fake);
  const dir = t.testdir();
  const out = join(dir, 'out');
  const state = join(dir, 'state');
  const common = ['--api', fake.api, '--out', out, '--state', state];
  const env = { DISCORD_TOKEN: fake.token };
  const lines = (stdout: string): Line[] => {
    const all = rawLines(stdout);
    t.same(
      all.flatMap((l) => schemaProblems(l)),
      [],
      'every stdout line is a documented event',
    );
    return all.filter((l): l is Line => l !== null);
  };

  const scrape = await runDps(['scrape', '--server-id', G, '--channel-id', C, '--types', 'all', ...common], { env });
  t.equal(scrape.code, 1, `the scrape exits 1 when files failed (stderr: ${scrape.stderr})`);
  const first = lines(scrape.stdout);
  const failed = first
    .filter(ofEvent('failed'))
    .map((l) => String(l.attachment_id))
    .sort();
  const saved = first.filter(ofEvent('saved')).map((l) => String(l.attachment_id));
  t.ok(failed.length > 0 && saved.length > 0, `some files failed (${failed.length}) and some were saved (${saved.length})`);
  const firstOk = fake.requests.filter((r) => r.kind === 'cdn' && r.status === 200).map((r) => attachmentOf(r.path));

  // The failures are in the state: status counts them as pending, the manifest lists them as failed.
  const status = await runDps(['status', '--state', state]);
  t.equal(status.code, 0, 'status exit 0');
  const report = JSON.parse(status.stdout) as { servers: Record<string, { channels: Record<string, { pending: number; failed: number }> }> };
  t.equal(report.servers[G]?.channels[C]?.pending, failed.length, 'status: every failure is pending');
  const manifest = await runDps(['manifest', '--state', state]);
  const records = manifest.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { attachment_id: string; status: string });
  t.same(
    records
      .filter((r) => r.status === 'failed')
      .map((r) => r.attachment_id)
      .sort(),
    failed,
    'manifest: the failed records',
  );

  fake.setOption({ faults: {} });
  fake.resetLog();
  const retry = await runDps(['retry-failed', '--server-id', G, ...common], { env }); // --types defaults to all
  t.equal(retry.code, 0, `retry-failed exits 0 (stderr: ${retry.stderr})`);
  const second = lines(retry.stdout);
  t.same(
    second
      .filter(ofEvent('saved'))
      .map((l) => String(l.attachment_id))
      .sort(),
    failed,
    'retry-failed saves exactly the failed files',
  );
  t.equal(second.filter(ofEvent('failed')).length, 0, 'nothing fails');
  const summary = second.find(ofEvent('summary'));
  t.equal(summary?.exit_code, 0, 'the summary says exit 0');
  t.equal(fake.requests.filter((r) => r.route === 'GET /channels/:id/messages').length, 0, 'no history paging');

  const downloads = [...firstOk, ...fake.requests.filter((r) => r.kind === 'cdn' && r.status === 200).map((r) => attachmentOf(r.path))];
  t.equal(new Set(downloads).size, downloads.length, 'no file was downloaded twice (one 200 per attachment over both runs)');
  await assertExact(t, fake, out, state, C);
});

t.test('retry-failed accepts every flag scrape takes (one flag builder)', async (t) => {
  const flags = (help: string): string[] => [...new Set(help.match(/^\s+(?:-\w, )?--[\w-]+/gm)?.map((f) => f.trim().replace(/^-\w, /, '')) ?? [])].sort();
  const scrape = await runDps(['scrape', '--help']);
  const retry = await runDps(['retry-failed', '--help']);
  t.equal(retry.code, 0, 'retry-failed --help exit 0');
  t.ok(flags(scrape.stdout).length > 20, `scrape lists ${flags(scrape.stdout).length} flags`);
  t.same(flags(retry.stdout), flags(scrape.stdout), 'the same flags');
  t.match(retry.stdout, /--types [^[]*\[string\]\s+\[default: "all"\]/, 'retry-failed retries every type by default'); // the default may wrap to the next line
  const missing = await runDps(['retry-failed', '--token', 'x']);
  t.equal(missing.code, 2, 'no --server-id: usage error');
});
