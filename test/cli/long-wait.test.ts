// Long rate-limit waits through the CLI (issue 20 item 14): a wait over --max-wait stops the run at once with
// exit 1, a summary and progress saved (a re-run finishes the archive, downloading nothing twice); a wait over
// the notice threshold prints one stderr line and a `warning` event (code rate_limited). The threshold is 10 s;
// the hidden --notice-wait lowers it so the test waits 1 s instead of 30.

import t from 'tap';
import { join } from 'node:path';
import { singleChannel } from '../../fixtures/scenarios.js';
import { collect } from '../helpers/harness.js';
import { assertExact } from '../helpers/verify.js';
import { status } from '../../lib/index.js';
import { fakeFor, firstTarget, ofEvent, rawLines, runDps, schemaProblems, startCli, stackLines } from './helpers.js';

const HISTORY = 'GET /channels/:id/messages';

// Waiting the 2 hours out would hang the test: the per-test timeout is the guard, no clock is read.
t.test('a 2-hour Retry-After with --max-wait 15m stops the run promptly: exit 1, summary, progress saved', { timeout: 300_000 }, async (t) => {
  // 2,000 messages (20 pages) answered 100 ms apart: the 429 is forced once the first files are in, long before the end.
  const fake = await fakeFor(t, {
    scenario: singleChannel({ seed: 81, messages: 2_000, imageRatio: 0.05, sizes: [1_000, 4_000] }),
    rateLimit: { latencyMs: 100 },
  });
  const { G, C } = firstTarget(fake);
  const dir = t.testdir();
  const out = join(dir, 'out');
  const state = join(dir, 'state');
  const args = ['--server-id', G, '--channel-id', C, '--api', fake.api, '--out', out, '--state', state, '--types', 'all'];
  const run = startCli([...args, '--max-wait', '15m'], { env: { DISCORD_TOKEN: fake.token } });
  await run.waitFor(1, ofEvent('saved'));
  fake.forceStatus(HISTORY, 429, 1, { retryAfter: 7200 });
  const first = await run.done;
  t.equal(first.code, 1, `exit 1 (stderr: ${first.stderr})`);
  t.same(
    rawLines(first.stdout).flatMap((line) => schemaProblems(line)),
    [],
    'only documented events',
  );
  const summary = first.lines.at(-1)!;
  t.equal(summary.event, 'summary', 'the last line is the summary');
  t.equal(summary.exit_code, 1);
  t.match(
    String(summary.error),
    /wait 2 h for the rate limit of GET \/channels\/\d+\/messages \(until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\), longer than --max-wait 15 min/,
  );
  t.match(first.stderr, /stopped: stopping: Discord asks to wait 2 h .*re-run after that time/, 'one clear line on stderr');
  t.same(stackLines(first.stderr), [], 'no stack trace');
  const limited = fake.requests.filter((r) => r.route === HISTORY && r.status === 429);
  t.equal(limited.length, 1, 'one 429, not waited out nor retried');
  const savedFirst = first.lines.filter(ofEvent('saved'));
  const entry = (await status(state)).servers[G]?.channels[C];
  t.ok(entry?.last_message_id || entry?.done_above, `progress is saved: ${JSON.stringify(entry)}`);
  const expected = await collect(fake.expected({ channelId: C }));
  t.ok(savedFirst.length > 0 && savedFirst.length < expected.length, `the run stopped part-way (${savedFirst.length} of ${expected.length} files)`);

  fake.resetLog();
  const second = await runDps(args, { env: { DISCORD_TOKEN: fake.token } });
  t.equal(second.code, 0, `the re-run finishes (stderr: ${second.stderr})`);
  const savedIds = [...savedFirst, ...second.lines.filter(ofEvent('saved'))].map((e) => String(e.attachment_id));
  t.same(savedIds.sort(), expected.map((e) => e.attachment_id).sort(), 'together the runs announce every file once');
  const again = fake.requests.filter((r) => r.kind === 'cdn' && savedFirst.some((e) => r.path.includes(`/${String(e.attachment_id)}/`)));
  t.same(
    again.map((r) => r.path),
    [],
    'nothing saved by the first run is downloaded again',
  );
  await assertExact(t, fake, out, state, C);
});

t.test('a rate-limit wait over the notice threshold: one stderr line and a warning event, then the run goes on', async (t) => {
  const fake = await fakeFor(t, { scenario: singleChannel({ seed: 82, messages: 60, imageRatio: 0.3, sizes: [1_000, 4_000] }) });
  const { G, C } = firstTarget(fake);
  const dir = t.testdir();
  const out = join(dir, 'out');
  const state = join(dir, 'state');
  fake.forceStatus(HISTORY, 429, 1, { retryAfter: 1 });
  const run = await runDps(
    ['--server-id', G, '--channel-id', C, '--api', fake.api, '--out', out, '--state', state, '--types', 'all', '--notice-wait', '200ms'],
    {
      env: { DISCORD_TOKEN: fake.token },
    },
  );
  t.equal(run.code, 0, `exit 0 (stderr: ${run.stderr})`);
  t.same(
    rawLines(run.stdout).flatMap((line) => schemaProblems(line)),
    [],
    'only documented events (the warning fields included)',
  );
  const lines = run.stderr.split('\n').filter((line) => line.startsWith('waiting '));
  t.equal(lines.length, 1, `one line on stderr: ${lines.join(' | ')}`);
  t.match(
    lines[0],
    new RegExp(`^waiting (\\d+(\\.\\d)? s|\\d+ ms) for the rate limit of GET /channels/${C}/messages, until \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ$`),
  );
  const warnings = run.lines.filter((line) => line.event === 'warning' && line.code === 'rate_limited');
  t.equal(warnings.length, 1, 'one rate_limited warning event');
  t.match(warnings[0], { scope: 'route', route: `GET /channels/${C}/messages`, wait_ms: Number, until: /^\d{4}-.*Z$/, detail: /waiting .* until/ });
  t.ok(Number(warnings[0]?.wait_ms) > 200, `wait_ms ${String(warnings[0]?.wait_ms)}`);
  await assertExact(t, fake, out, state, C);
});

t.test('--max-wait and --timeout take durations; anything else is a usage error', async (t) => {
  const fake = await fakeFor(t, { scenario: singleChannel({ seed: 83, messages: 5 }) });
  const { G, C } = firstTarget(fake);
  for (const [flag, value] of [
    ['--max-wait', 'soon'],
    ['--timeout', '0'],
    ['--max-wait', '5d'],
  ] as const) {
    const run = await runDps(['--server-id', G, '--channel-id', C, '--api', fake.api, flag, value], { env: { DISCORD_TOKEN: fake.token } });
    t.equal(run.code, 2, `${flag} ${value}: exit 2`);
    t.match(run.stderr, new RegExp(`^dps: ${flag} must be a duration like 90s, 15m, 1h or a number of milliseconds`), 'one line naming the flag');
  }
  t.equal(fake.requests.length, 0, 'no request made');
});
