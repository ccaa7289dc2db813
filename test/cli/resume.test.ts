// `--resume` (the default) continues after the saved cursor; `--no-resume` is `--from-start`: the whole history
// is walked again, and files already archived are still not downloaded again.

import t from 'tap';
import { join } from 'node:path';
import { singleChannel } from '../../fixtures/scenarios.js';
import { fakeFor, firstTarget, ofEvent, runDps, startCli } from './helpers.js';

t.test('--no-resume walks the whole history again, like --from-start, downloading nothing twice', async (t) => {
  const fake = await fakeFor(t, { scenario: singleChannel({ seed: 32, messages: 450, imageRatio: 0.05, sizes: [1_000, 3_000] }) });
  const { G, C } = firstTarget(fake);
  const dir = t.testdir();
  const args = ['--server-id', G, '--channel-id', C, '--api', fake.api, '--out', join(dir, 'out'), '--state', join(dir, 'state')];
  const env = { DISCORD_TOKEN: fake.token };
  const first = await runDps(args, { env });
  t.equal(first.code, 0, `first run exit 0 (stderr: ${first.stderr})`);
  t.ok(first.lines.filter(ofEvent('saved')).length > 0, 'the first run saved files');
  const pages = (): number => fake.requests.filter((r) => r.route === 'GET /channels/:id/messages').length;
  const walked = pages();
  t.ok(walked >= 5, `the first run walked ${walked} pages`);

  const again = async (extra: string[]): Promise<{ pages: number; cdn: number; saved: number; stderr: string }> => {
    fake.resetLog();
    const run = await runDps([...args, ...extra], { env });
    t.equal(run.code, 0, `${extra.join(' ') || 'default'}: exit 0 (stderr: ${run.stderr})`);
    return { pages: pages(), cdn: fake.requests.filter((r) => r.kind === 'cdn').length, saved: run.lines.filter(ofEvent('saved')).length, stderr: run.stderr };
  };
  const resumed = await again([]);
  t.equal(resumed.pages, 1, 'the default (--resume) re-run asks for one page');
  t.match(resumed.stderr, /resuming after message/);

  for (const flag of ['--no-resume', '--from-start']) {
    const run = await again([flag]);
    t.ok(run.pages >= walked - 1, `${flag}: the whole history is walked again (${run.pages} pages)`);
    t.match(run.stderr, /starting from the beginning/, `${flag}: says it starts from the beginning`);
    t.equal(run.cdn, 0, `${flag}: nothing is downloaded again`);
    t.equal(run.saved, 0, `${flag}: nothing is announced again`);
  }
});

// kill -9 leaves files recorded beyond the cursor whose `saved` line never reached stdout; the next run announces
// them from their records. A --from-start run did not (it skipped them as already archived), so no run ever
// announced them. Kills land right after a few saves while many downloads are in flight; several rounds.
t.test('kill -9, then --from-start: every archived file is announced by some run', async (t) => {
  const fake = await fakeFor(t, { scenario: singleChannel({ seed: 35, messages: 300, imageRatio: 0.8, sizes: [20_000, 60_000] }), cdnLatencyMs: 20 });
  const { G, C } = firstTarget(fake);
  const env = { DISCORD_TOKEN: fake.token };
  const expected = [...fake.expected({ channelId: C })].map((a) => a.attachment_id).sort();
  for (let round = 0; round < 3; round++) {
    const dir = t.testdir();
    const args = [
      '--server-id',
      G,
      '--channel-id',
      C,
      '--api',
      fake.api,
      '--out',
      join(dir, `out${round}`),
      '--state',
      join(dir, `state${round}`),
      '--types',
      'all',
      '--concurrency',
      '32',
    ];
    const killed = startCli(args, { env });
    await killed.waitFor(3 + round * 5, ofEvent('saved')).then(
      () => killed.child.kill('SIGKILL'),
      () => undefined,
    );
    const first = await killed.done;
    const second = await runDps([...args, '--from-start'], { env });
    t.equal(second.code, 0, `round ${round}: the --from-start run exits 0 (${second.stderr})`);
    const announced = new Set([...first.lines, ...second.lines].filter(ofEvent('saved')).map((l) => String(l.attachment_id)));
    t.same([...announced].sort(), expected, `round ${round}: every file announced`);
  }
});
