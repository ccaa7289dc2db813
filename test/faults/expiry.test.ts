// Expired signed links: a run that lasts longer than the links' lifetime still completes everything, links
// are refreshed through POST /attachments/refresh-urls (at most 50 per call), and when that endpoint fails the
// message is re-fetched instead.

import t from 'tap';
import { startFakeDiscord } from '../../fixtures/fake-discord.js';
import { singleChannel } from '../../fixtures/scenarios.js';
import { runLibrary } from '../helpers/harness.js';
import { assertExact, baseOptions } from '../helpers/verify.js';

t.test('a run longer than a 3-second link lifetime completes everything', async (t) => {
  const fake = await startFakeDiscord({
    scenario: singleChannel({ seed: 21, messages: 180, imageRatio: 0.8, sizes: [1_000, 8_000] }),
    linkLifetimeSec: 3,
    cdnLatencyMs: 60,
  });
  t.teardown(() => fake.close());
  const channel = fake.scenario.guilds[0]!.channels[0]!;
  const options = { ...baseOptions(fake, t.testdir(), channel.id), concurrency: 2, retries: 3, backoffMs: 20 };
  const started = Date.now();
  const run = await runLibrary(options);
  const elapsed = Date.now() - started;
  t.ok(elapsed > 3_000, `the run outlived the link lifetime (${elapsed} ms)`);
  t.equal(run.result.exitCode, 0, 'exit code 0');
  t.equal(run.events.filter((e) => e.event === 'failed').length, 0, 'no failed events');
  const refreshCalls = fake.requests.filter((r) => r.route === 'POST /attachments/refresh-urls');
  t.ok(refreshCalls.length > 0, `links were refreshed (${refreshCalls.length} refresh calls)`);
  await assertExact(t, fake, options.out, options.state, channel.id);
});

t.test('links that expire while waiting for a download slot are refreshed again', async (t) => {
  // One download slot and a slow CDN: an item refreshed when it entered the fetch window waits longer than
  // the 3-second lifetime for its turn, so its link expires a second time before it is used.
  const fake = await startFakeDiscord({
    scenario: singleChannel({ seed: 23, messages: 30, imageRatio: 0.8, sizes: [1_000, 4_000] }),
    linkLifetimeSec: 3,
    cdnLatencyMs: 250,
  });
  t.teardown(() => fake.close());
  const channel = fake.scenario.guilds[0]!.channels[0]!;
  const options = { ...baseOptions(fake, t.testdir(), channel.id), concurrency: 1, retries: 2, backoffMs: 10 };
  const run = await runLibrary(options);
  t.equal(run.result.exitCode, 0, 'exit code 0');
  t.same(run.events.filter((e) => e.event === 'failed'), [], 'no failed events');
  await assertExact(t, fake, options.out, options.state, channel.id);
});

t.test('when refresh-urls fails, links are refreshed by re-fetching the message', async (t) => {
  const fake = await startFakeDiscord({
    scenario: singleChannel({ seed: 22, messages: 150, imageRatio: 0.6, sizes: [1_000, 6_000] }),
    linkLifetimeSec: 3,
    cdnLatencyMs: 60,
  });
  t.teardown(() => fake.close());
  fake.forceStatus('POST /attachments/refresh-urls', 400, 1_000_000);
  const channel = fake.scenario.guilds[0]!.channels[0]!;
  const options = { ...baseOptions(fake, t.testdir(), channel.id), concurrency: 2, retries: 3, backoffMs: 20 };
  const run = await runLibrary(options);
  t.equal(run.result.exitCode, 0, 'exit code 0');
  t.ok(fake.requests.some((r) => r.route === 'POST /attachments/refresh-urls' && r.status === 400), 'refresh-urls was refused');
  t.ok(fake.requests.some((r) => r.route === 'GET /channels/:id/messages/:message_id' && r.status === 200), 'messages were re-fetched');
  await assertExact(t, fake, options.out, options.state, channel.id);
});
