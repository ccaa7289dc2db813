// Fault injection against the fake: 5xx (JSON and HTML proxy pages), connection resets and truncated bodies
// on the CDN and the API end in a byte-exact archive; items that keep failing are recorded, reported as
// `failed` events, and retried first by the next run.

import t from 'tap';
import { startFakeDiscord } from '../../fixtures/fake-discord.js';
import { singleChannel } from '../../fixtures/scenarios.js';
import { runLibrary } from '../helpers/harness.js';
import { linkTime, runWithHooks } from '../helpers/link-time.js';
import { assertExact, baseOptions } from '../helpers/verify.js';

type Failed = { event: 'failed'; attachment_id: string; reason: string; status?: number };

t.test('10% 5xx, 5% resets and 5% truncated downloads end byte-exact', async (t) => {
  const fake = await startFakeDiscord({
    scenario: singleChannel({ seed: 11, messages: 400, imageRatio: 0.5, sizes: [2_000, 60_000] }),
    faults: { error5xxRate: 0.1, resetRate: 0.05, truncateRate: 0.05, seed: 3, target: 'cdn' },
  });
  t.teardown(() => fake.close());
  const channel = fake.scenario.guilds[0]!.channels[0]!;
  const options = { ...baseOptions(fake, t.testdir(), channel.id), retries: 8, backoffMs: 20 };
  const run = await runLibrary(options);
  t.equal(run.result.exitCode, 0, 'exit code 0');
  t.equal(run.events.filter((e) => e.event === 'failed').length, 0, 'no failed events');
  const cdn = fake.requests.filter((r) => r.kind === 'cdn');
  const faulty = cdn.filter((r) => r.status !== 200);
  t.ok(faulty.length >= cdn.length * 0.1, `faults were injected (${faulty.length} of ${cdn.length} CDN responses)`);
  t.ok(
    cdn.some((r) => r.status === 0),
    'some connections were reset',
  );
  const expected = [...fake.expected({ channelId: channel.id })].length;
  t.ok(cdn.filter((r) => r.status === 200).length > expected, 'some 200 responses were truncated and downloaded again');
  await assertExact(t, fake, options.out, options.state, channel.id);
});

t.test('API faults (5xx, HTML proxy pages, resets, truncated JSON) are retried, not fatal', async (t) => {
  const fake = await startFakeDiscord({
    scenario: singleChannel({ seed: 12, messages: 700, imageRatio: 0.2, sizes: [1_000, 20_000] }),
    faults: { error5xxRate: 0.1, htmlErrorRate: 0.1, resetRate: 0.05, truncateRate: 0.05, seed: 5, target: 'both' },
  });
  t.teardown(() => fake.close());
  const channel = fake.scenario.guilds[0]!.channels[0]!;
  const options = { ...baseOptions(fake, t.testdir(), channel.id), retries: 8, backoffMs: 20 };
  const run = await runLibrary(options);
  t.equal(run.result.exitCode, 0, `exit code 0 (${run.logs.join(' ')})`);
  const api = fake.requests.filter((r) => r.kind === 'api');
  t.ok(
    api.some((r) => r.status >= 500 || r.status === 0),
    'API faults were injected',
  );
  await assertExact(t, fake, options.out, options.state, channel.id);
});

t.test('items that keep failing are recorded with a reason, then retried first (and retry-failed retries only them)', async (t) => {
  const fake = await startFakeDiscord({
    scenario: singleChannel({ seed: 13, messages: 200, imageRatio: 0.5, sizes: [2_000, 30_000] }),
    faults: { error5xxRate: 0.3, truncateRate: 0.1, seed: 9, target: 'cdn' },
  });
  t.teardown(() => fake.close());
  const channel = fake.scenario.guilds[0]!.channels[0]!;
  const options = { ...baseOptions(fake, t.testdir(), channel.id), retries: 1, backoffMs: 5 };
  const first = await runLibrary(options);
  const failed = first.events.filter((e) => e.event === 'failed') as unknown as Failed[];
  t.ok(failed.length > 0, `${failed.length} items failed with one retry`);
  t.equal(first.result.exitCode, 1, 'exit code 1 when files failed');
  for (const f of failed) t.ok(f.reason.length > 0, `failed event has a reason: ${f.reason}`);
  const summary = first.events.at(-1) as { event: string; failed: number };
  t.equal(summary.failed, failed.length, 'summary counts the failures');

  // Without new messages, a normal run retries exactly the failed items (and nothing else) before paging.
  fake.setOption({ faults: {} });
  fake.resetLog();
  const second = await runLibrary(options);
  t.equal(second.result.exitCode, 0, 'the re-run succeeds');
  const saved = second.events.filter((e) => e.event === 'saved') as unknown as Array<{ attachment_id: string }>;
  t.same(saved.map((s) => s.attachment_id).sort(), failed.map((f) => f.attachment_id).sort(), 'exactly the failed items are saved');
  const firstCdn = fake.requests.findIndex((r) => r.kind === 'cdn');
  const firstPage = fake.requests.findIndex((r) => r.route === 'GET /channels/:id/messages');
  t.ok(firstCdn >= 0 && (firstPage < 0 || firstCdn < firstPage), 'failed items are retried before the history is paged');
  await assertExact(t, fake, options.out, options.state, channel.id);
});

t.test('dps retry-failed (retryOnly) retries only the failed items and refreshes their links first', async (t) => {
  const { time, clock } = linkTime(); // the links' time, shared by the fake and the runs, moved by the test
  const fake = await startFakeDiscord({
    scenario: singleChannel({ seed: 14, messages: 150, imageRatio: 0.5, sizes: [2_000, 30_000] }),
    faults: { error5xxRate: 0.5, seed: 1, target: 'cdn' },
    linkLifetimeSec: 10, // longer than the margin a download refreshes links within: only the renewal refreshes them
    linkClock: () => time.now(),
  });
  t.teardown(() => fake.close());
  const channel = fake.scenario.guilds[0]!.channels[0]!;
  const options = { ...baseOptions(fake, t.testdir(), channel.id), retries: 0, backoffMs: 5 };
  const first = await runWithHooks(options, { clock });
  const failed = first.events.filter((e) => e.event === 'failed') as unknown as Failed[];
  t.ok(failed.length > 0, `${failed.length} items failed`);
  fake.setOption({ faults: {} });
  await time.advance(10_500); // every stored link is now past its `ex`
  fake.resetLog();
  const retry = await runWithHooks({ ...options, retryOnly: true, channelIds: [] }, { clock });
  t.equal(retry.result.exitCode, 0, 'retry-failed succeeds');
  const saved = retry.events.filter((e) => e.event === 'saved') as unknown as Array<{ attachment_id: string }>;
  t.same(saved.map((s) => s.attachment_id).sort(), failed.map((f) => f.attachment_id).sort(), 'exactly the failed items');
  t.equal(fake.requests.filter((r) => r.route === 'GET /channels/:id/messages').length, 0, 'no history paging');
  const refreshes = fake.requests.flatMap((r, i) => (r.route === 'POST /attachments/refresh-urls' ? [i] : []));
  t.ok(refreshes.length > 0, 'links were refreshed');
  t.ok(failed.length > 16 && failed.length <= 50, 'more failed items than the fetch window, renewed in one batch');
  t.ok(refreshes.at(-1)! < fake.requests.findIndex((r) => r.kind === 'cdn'), 'every link was refreshed before the first download');
  t.equal(fake.requests.filter((r) => r.kind === 'cdn' && r.status === 404).length, 0, 'no download used an expired link');
  await assertExact(t, fake, options.out, options.state, channel.id);
});
