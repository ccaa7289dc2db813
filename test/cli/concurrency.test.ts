// The concurrency flags end to end: auto (the default) and its caps, a pinned number, and bad values.

import { join } from 'node:path';
import t from 'tap';
import { buildScenario } from '../../fixtures/scenarios.js';
import { assertExact } from '../helpers/verify.js';
import { fakeFor, ofEvent, runDps } from './helpers.js';

function server() {
  return buildScenario({
    seed: 31,
    guilds: [{ name: 'Caps', channels: ['a', 'b', 'c'].map((name) => ({ name, messages: 60, imageRatio: 0.5, sizes: [2_000, 30_000] as [number, number] })) }],
  });
}

for (const [what, flags, downloads, channels] of [
  ['the caps of auto hold', ['--concurrency', 'auto', '--max-concurrency', '2', '--channel-concurrency', 'auto', '--max-channel-concurrency', '1'], 2, 1],
  ['pinned numbers hold', ['--concurrency', '3', '--channel-concurrency', '2'], 3, 2],
] as const) {
  t.test(`${what}: exit 0, every file on disk, never more in flight`, async (t) => {
    const fake = await fakeFor(t, { scenario: server(), cdnLatencyMs: 20, rateLimit: { latencyMs: 20 } });
    const dir = t.testdir();
    const out = join(dir, 'out');
    const state = join(dir, 'state');
    const G = fake.scenario.guilds[0]!.id;
    const run = await runDps(['--server-id', G, '--all-channels', '--api', fake.api, '--out', out, '--state', state, ...flags], {
      env: { DISCORD_TOKEN: fake.token },
    });
    t.equal(run.code, 0, `exit 0 (stderr: ${run.stderr})`);
    await assertExact(t, fake, out, state);
    t.ok(fake.stats.cdnMaxConcurrent <= downloads, `at most ${downloads} downloads at once (${fake.stats.cdnMaxConcurrent})`);
    // One channel's history requests never overlap another's when one channel runs at a time.
    const history = fake.requests.filter((r) => r.route === 'GET /channels/:id/messages');
    const spans = new Map<string, [number, number]>();
    history.forEach((r, i) => {
      const span = spans.get(r.channelId ?? '') ?? [i, i];
      spans.set(r.channelId ?? '', [span[0], i]);
    });
    const overlapping = (at: number): number => [...spans.values()].filter(([from, to]) => from <= at && at <= to).length;
    const most = Math.max(...history.map((_, i) => overlapping(i)));
    t.ok(most <= channels, `at most ${channels} channel(s) walked at once (${most})`);
    const summary = run.lines.filter(ofEvent('summary'))[0];
    t.equal(summary?.channels, 3);
  });
}

t.test('bad values: a one-line usage error, exit 2, no request', async (t) => {
  for (const [flag, value, pattern] of [
    ['--concurrency', 'fast', /--concurrency must be auto or an integer from 1 to 256, got fast/],
    ['--channel-concurrency', '0', /--channel-concurrency must be auto or an integer/],
    ['--max-concurrency', '999', /--max-concurrency must be an integer from 1 to 256/],
    ['--max-channel-concurrency', '0', /--max-channel-concurrency must be an integer from 1 to 256/],
  ] as const) {
    const run = await runDps(['--server-id', '123456789012345678', '--channel-id', '123456789012345679', flag, value], {
      env: { DISCORD_TOKEN: 'x', DISCORD_API_URL: 'http://127.0.0.1:9/api/v10' },
    });
    t.equal(run.code, 2, `${flag} ${value}: exit 2`);
    t.match(run.stderr, pattern);
    t.equal(run.stderr.trim().split('\n').length, 1, 'one line');
  }
});
