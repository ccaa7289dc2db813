// `--resume` (the default) continues after the saved cursor; `--no-resume` is `--from-start`: the whole history
// is walked again, and files already archived are still not downloaded again.

import t from 'tap';
import { join } from 'node:path';
import { singleChannel } from '../../fixtures/scenarios.js';
import { fakeFor, firstTarget, ofEvent, runDps } from './helpers.js';

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
