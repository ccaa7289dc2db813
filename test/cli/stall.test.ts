// Stalled downloads (issue 20 item 17). On SIGINT the files being transferred finish, but a transfer that has
// received nothing for the stall grace (2 s; the hidden --stall-grace sets it) is cancelled: the run exits 130
// without waiting for the download timeout (--timeout, 60 s), leaves no temp file, records nothing as failed and
// announces nothing for it; the next run downloads it. Without SIGINT a stall is a timeout (--timeout), retried,
// and every retry is one stderr line: which file, why, attempt n of m.

import t from 'tap';
import { join } from 'node:path';
import { singleChannel } from '../../fixtures/scenarios.js';
import { collect, listFiles } from '../helpers/harness.js';
import { assertExact } from '../helpers/verify.js';
import { status } from '../../lib/index.js';
import { fakeFor, firstTarget, ofEvent, runDps, startCli } from './helpers.js';

const scenario = (seed: number) => singleChannel({ seed, messages: 80, imageRatio: 0.3, sizes: [20_000, 80_000] });

// --timeout is an hour, so a run that waited for it instead of cancelling the stalled transfer would hang: the
// per-test timeout is the guard, no clock is read.
t.test('SIGINT cancels a stalled transfer at once instead of waiting for the timeout', { timeout: 300_000 }, async (t) => {
  let stalled!: (path: string) => void;
  const stall = new Promise<string>((resolve) => (stalled = resolve));
  const fake = await fakeFor(t, { scenario: scenario(91), cdnStall: { count: 1, onStall: (path) => stalled(path) } });
  const { G, C } = firstTarget(fake);
  const dir = t.testdir();
  const out = join(dir, 'out');
  const state = join(dir, 'state');
  const args = ['--server-id', G, '--channel-id', C, '--api', fake.api, '--out', out, '--state', state, '--types', 'all'];
  const run = startCli([...args, '--timeout', '1h', '--stall-grace', '1s'], { env: { DISCORD_TOKEN: fake.token } });
  const path = await stall; // the fake has sent the headers and half the body, and nothing more
  const stalledId = path.split('/')[3]!;
  run.child.kill('SIGINT');
  const first = await run.done;
  t.equal(first.code, 130, `exit 130 (stderr: ${first.stderr})`);
  t.same(
    (await listFiles(out)).filter((f) => f.endsWith('.dps-tmp')),
    [],
    'no temp files',
  );
  t.same(
    first.lines.filter((l) => l.attachment_id === stalledId),
    [],
    'nothing announced for the cancelled file',
  );
  t.same(first.lines.filter(ofEvent('failed')), [], 'no failed event');
  t.notMatch(first.stderr, /retrying/, 'a cancelled transfer is not retried');
  const entry = (await status(state)).servers[G]?.channels[C];
  t.equal(entry?.failed ?? 0, 0, 'not recorded as failed');
  t.equal(entry?.pending ?? 0, 0, 'nor queued for retry');
  t.equal(first.lines.at(-1)?.event, 'summary', 'a summary');

  const second = await runDps(args, { env: { DISCORD_TOKEN: fake.token } });
  t.equal(second.code, 0, `the next run finishes (stderr: ${second.stderr})`);
  t.ok(
    second.lines.some((l) => l.event === 'saved' && l.attachment_id === stalledId),
    'and downloads the cancelled file',
  );
  const announced = [...first.lines, ...second.lines].filter(ofEvent('saved')).map((l) => String(l.attachment_id));
  t.same(announced.sort(), (await collect(fake.expected({ channelId: C }))).map((e) => e.attachment_id).sort(), 'every file announced once');
  await assertExact(t, fake, out, state, C);
});

t.test('a stall is a timeout (--timeout), and every retry is one stderr line: file, message, reason, attempt n of m', async (t) => {
  let stalledPath = '';
  const fake = await fakeFor(t, {
    scenario: scenario(92),
    cdnStall: { count: 1, onStall: (path) => (stalledPath = path) },
    faults: { error5xxRate: 0.1, target: 'cdn', seed: 4 },
  });
  const { G, C } = firstTarget(fake);
  const dir = t.testdir();
  const out = join(dir, 'out');
  const state = join(dir, 'state');
  const run = await runDps(['--server-id', G, '--channel-id', C, '--api', fake.api, '--out', out, '--state', state, '--types', 'all', '--timeout', '1s'], {
    env: { DISCORD_TOKEN: fake.token },
  });
  t.equal(run.code, 0, `exit 0 (stderr: ${run.stderr})`);
  const retries = run.stderr.split('\n').filter((line) => line.startsWith('retrying '));
  const expected = await collect(fake.expected({ channelId: C }));
  const byId = new Map(expected.map((e) => [e.attachment_id, e]));
  const cdn = fake.requests.filter((r) => r.kind === 'cdn');
  const failedAttempts = cdn.filter((r) => r.status !== 200 || !byId.has(r.path.split('/')[3]!)).length + 1; // + the stalled 200
  t.equal(retries.length, failedAttempts, `one line per retry (${retries.length})`);
  for (const line of retries) t.match(line, /^retrying .+ \(message \d{17,20}\): (http_5\d\d|network) \(.+\), attempt [2-6] of 6$/);
  t.ok(
    retries.some((line) => /: http_50\d \(CDN answered 50\d\), attempt 2 of 6$/.test(line)),
    'a 5xx says its status',
  );
  const timedOut = retries.filter((line) => /: network \(timed out: no data from the CDN within --timeout\), attempt 2 of 6$/.test(line));
  t.equal(timedOut.length, 1, `the stall is retried as a timeout: ${timedOut.join(' | ')}`);
  const stalledFile = byId.get(stalledPath.split('/')[3] ?? '');
  t.ok(stalledFile && timedOut[0]?.includes(`${stalledFile.filename} (message ${stalledFile.message_id})`), 'naming the file and its message');
  await assertExact(t, fake, out, state, C);
});
