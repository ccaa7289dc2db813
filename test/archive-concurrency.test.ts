// Download concurrency end to end, through the library against the fake Discord with a CDN that takes 60 ms to
// answer: at the default (`auto`) the pool grows past its starting 8; against a CDN that answers 429 above 16
// concurrent downloads, every file is saved, none lost, nothing failed, and few downloads were answered 429;
// a pinned --concurrency is never exceeded.

import t from 'tap';
import type { Test } from 'tap';
import { startFakeDiscord } from '../fixtures/fake-discord.js';
import type { FakeOptions } from '../fixtures/fake-discord.js';
import { singleChannel } from '../fixtures/scenarios.js';
import { eventsOf } from './helpers/events.js';
import { runLibrary } from './helpers/harness.js';
import { assertExact, baseOptions } from './helpers/verify.js';

async function world(t: Test, options: Omit<FakeOptions, 'scenario'>, images = 500) {
  const fake = await startFakeDiscord({
    scenario: singleChannel({ messages: images, imageRatio: 1, sizes: [2_000, 60_000], gapRate: 0, mentionRate: 0 }),
    cdnLatencyMs: 60,
    ...options,
  });
  t.teardown(() => fake.close());
  const dir = t.testdir();
  const channel = fake.scenario.guilds[0]!.channels[0]!;
  return { fake, options: baseOptions(fake, dir, channel.id), channelId: channel.id };
}

t.test('auto: the pool grows past its starting 8 when the CDN is latency-bound', async (t) => {
  const { fake, options, channelId } = await world(t, {});
  const run = await runLibrary(options);
  t.equal(run.result.exitCode, 0);
  await assertExact(t, fake, options.out, options.state, channelId);
  t.ok(fake.stats.cdnMaxConcurrent > 8, `up to ${fake.stats.cdnMaxConcurrent} downloads at once`);
});

t.test('auto against a CDN that answers 429 above 16 at once: every file saved, few 429s', async (t) => {
  const { fake, options, channelId } = await world(t, { cdnConcurrencyLimit: 16 });
  const run = await runLibrary(options);
  t.equal(run.result.exitCode, 0);
  t.same(eventsOf(run.events, 'failed'), [], 'nothing failed');
  const check = await assertExact(t, fake, options.out, options.state, channelId);
  const downloads = check.expected;
  const refused = fake.stats.cdnStatus429;
  t.ok(refused <= Math.max(5, downloads * 0.02), `${refused} of ${downloads} downloads answered 429`);
});

t.test('a pinned --concurrency is never exceeded, and does not move', async (t) => {
  const { fake, options, channelId } = await world(t, {}, 60);
  const run = await runLibrary({ ...options, concurrency: 3 });
  t.equal(run.result.exitCode, 0);
  await assertExact(t, fake, options.out, options.state, channelId);
  t.ok(fake.stats.cdnMaxConcurrent <= 3, `at most ${fake.stats.cdnMaxConcurrent} at once`);
});
