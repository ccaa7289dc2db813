// Expired signed links: a run that lasts longer than the links' lifetime still completes everything, links
// are refreshed through POST /attachments/refresh-urls (at most 50 per call), links that expire again while
// their item waits for a download slot are refreshed again, and when that endpoint fails the message is
// re-fetched instead. The links live by a clock shared by the fake and the run, moved as download slots are
// taken (test/helpers/link-time.ts), so nothing waits for real seconds.

import t from 'tap';
import { startFakeDiscord } from '../../fixtures/fake-discord.js';
import { singleChannel } from '../../fixtures/scenarios.js';
import { AdvancingPool, linkTime, runWithHooks } from '../helpers/link-time.js';
import { assertExact, baseOptions } from '../helpers/verify.js';

const LIFETIME_S = 3;
// How far the clock moves per download slot taken in the long runs: an item waits for about a window (16) of
// slots, which must stay well inside a fresh link's lifetime, while the whole run outlives it many times.
const STEP_MS = 40;

t.test('a run longer than a 3-second link lifetime completes everything', async (t) => {
  const { time, clock } = linkTime();
  const fake = await startFakeDiscord({
    scenario: singleChannel({ seed: 21, messages: 180, imageRatio: 0.8, sizes: [1_000, 8_000] }),
    linkLifetimeSec: LIFETIME_S,
    linkClock: () => time.now(),
  });
  t.teardown(() => fake.close());
  const channel = fake.scenario.guilds[0]!.channels[0]!;
  const options = { ...baseOptions(fake, t.testdir(), channel.id), concurrency: 2, retries: 3, backoffMs: 20 };
  const started = time.now();
  const run = await runWithHooks(options, { clock, pool: new AdvancingPool(2, time, () => STEP_MS) });
  const elapsed = time.now() - started;
  t.ok(elapsed > LIFETIME_S * 1000, `the run outlived the link lifetime (${elapsed} ms by the links' clock)`);
  t.equal(run.result.exitCode, 0, 'exit code 0');
  t.equal(run.events.filter((e) => e.event === 'failed').length, 0, 'no failed events');
  const refreshCalls = fake.requests.filter((r) => r.route === 'POST /attachments/refresh-urls');
  t.ok(refreshCalls.length > 0, `links were refreshed (${refreshCalls.length} refresh calls)`);
  await assertExact(t, fake, options.out, options.state, channel.id);
});

t.test('links that expire while waiting for a download slot are refreshed again', async (t) => {
  // One download slot. Every link is refreshed as its item enters the fetch window (a 3-second lifetime is
  // inside the refresh margin); when the second slot is taken the clock jumps past the lifetime, so the items
  // then waiting hold links refreshed once that have expired again: they must be refreshed before being used.
  const { time, clock } = linkTime();
  const fake = await startFakeDiscord({
    scenario: singleChannel({ seed: 23, messages: 30, imageRatio: 0.8, sizes: [1_000, 4_000] }),
    linkLifetimeSec: LIFETIME_S,
    linkClock: () => time.now(),
  });
  t.teardown(() => fake.close());
  const channel = fake.scenario.guilds[0]!.channels[0]!;
  const options = { ...baseOptions(fake, t.testdir(), channel.id), concurrency: 1, retries: 2, backoffMs: 10 };
  const pool = new AdvancingPool(1, time, (n) => (n === 2 ? LIFETIME_S * 1000 : 0));
  const run = await runWithHooks(options, { clock, pool });
  t.ok(pool.granted > 2, `the clock jumped while items waited (${pool.granted} slots taken)`);
  t.equal(run.result.exitCode, 0, 'exit code 0');
  t.same(
    run.events.filter((e) => e.event === 'failed'),
    [],
    'no failed events',
  );
  const cdn = fake.requests.filter((r) => r.kind === 'cdn');
  t.same(
    cdn.filter((r) => r.status !== 200).map((r) => `${r.status} ${r.path}`),
    [],
    'no download was made with an expired link',
  );
  await assertExact(t, fake, options.out, options.state, channel.id);
});

t.test('when refresh-urls fails, links are refreshed by re-fetching the message', async (t) => {
  // Fewer files than the messages route's rate limit, so the re-fetches are not paced (in real time).
  const { time, clock } = linkTime();
  const fake = await startFakeDiscord({
    scenario: singleChannel({ seed: 22, messages: 60, imageRatio: 0.6, sizes: [1_000, 6_000] }),
    linkLifetimeSec: LIFETIME_S,
    linkClock: () => time.now(),
  });
  t.teardown(() => fake.close());
  fake.forceStatus('POST /attachments/refresh-urls', 400, 1_000_000);
  const channel = fake.scenario.guilds[0]!.channels[0]!;
  const options = { ...baseOptions(fake, t.testdir(), channel.id), concurrency: 2, retries: 3, backoffMs: 20 };
  const run = await runWithHooks(options, { clock, pool: new AdvancingPool(2, time, () => STEP_MS) });
  t.equal(run.result.exitCode, 0, 'exit code 0');
  t.ok(
    fake.requests.some((r) => r.route === 'POST /attachments/refresh-urls' && r.status === 400),
    'refresh-urls was refused',
  );
  t.ok(
    fake.requests.some((r) => r.route === 'GET /channels/:id/messages/:message_id' && r.status === 200),
    'messages were re-fetched',
  );
  await assertExact(t, fake, options.out, options.state, channel.id);
});
