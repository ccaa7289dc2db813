// What is left of a run: pages, ETA, and the floor reported in the summary.

import t from 'tap';
import { RunEstimator } from '../lib/run-estimates.js';
import { snowflakeFromDate } from '../lib/util/snowflake.js';

const HOUR = 3_600_000;
const id = (hours: number): string => snowflakeFromDate(new Date(Date.UTC(2024, 0, 1) + hours * HOUR));
const page = (fromHour: number, count: number, perHour: number): Array<{ id: string }> =>
  Array.from({ length: count }, (_, i) => ({ id: id(fromHour + (i + 1) / perHour) }));

t.test('ETA: the largest channel at its pace, or every page at the global rate', async (t) => {
  let now = 0;
  const paces = new Map<string, number>();
  const estimator = new RunEstimator({ globalPerSecond: 50, paceMs: (channel) => paces.get(channel) ?? 0, now: () => now });
  const big = id(0);
  const small = id(0.001);
  estimator.expect(big, { newest: id(1000) }, '0');
  estimator.expect(small, { newest: id(10) }, '0');
  const walk = estimator.walk(big, { newest: id(1000) }, '0');
  walk.page(page(0, 100, 10), false); // 10 messages an hour: the big channel holds about 10,000 messages
  paces.set(big, 1000); // a page a second, learnt
  const estimate = estimator.estimate();
  t.equal(estimate.channels_left, 2);
  t.equal(estimate.channels_running, 1);
  t.ok(estimate.pages_left > 95 && estimate.pages_left < 110, `about 100 pages left in the big channel, and a few in the small one (${estimate.pages_left})`);
  t.ok(estimate.eta_ms! >= 95_000 && estimate.eta_ms! <= 105_000, `about 100 s at a page a second (${estimate.eta_ms})`);
  now = 5_000;
  estimator.finish(small);
  estimator.finish(big);
  const { channels: _, channels_done: __, channels_total: ___, percent: ____, ...history } = estimator.estimate(); // the display's fields: below
  t.same(history, { pages_left: 0, channels_left: 0, channels_running: 0, eta_ms: 0 });
});

t.test('a channel of unknown size counts as the least a channel takes, and does not hide the ETA', async (t) => {
  const estimator = new RunEstimator({ globalPerSecond: 50, paceMs: () => 0 });
  estimator.expect(id(0), undefined, '0');
  t.match(estimator.estimate(), { pages_left: 2, eta_ms: 2000 });
});

t.test('estimates stay linear in the channels: the pace is asked once per estimate', async (t) => {
  let asked = 0;
  const paceMs = (): number => {
    asked++;
    return 0;
  };
  const estimator = new RunEstimator({ globalPerSecond: 50, paceMs });
  for (let c = 0; c < 3000; c++) estimator.walk(id(c / 100), { newest: id(1000) }, '0').page(page(c / 100, 10, 10), false);
  estimator.estimate();
  estimator.floor();
  t.ok(asked <= 2, `paceMs asked ${asked} times for 3,000 channels`);
});

t.test('floor: max(largest channel at the per-channel rate, all pages at the global rate)', async (t) => {
  let now = 0;
  const estimator = new RunEstimator({ globalPerSecond: 50, paceMs: () => 1000, now: () => now });
  t.equal(estimator.floor(), undefined, 'nothing walked');
  for (let c = 0; c < 10; c++) {
    const walk = estimator.walk(id(c), { newest: id(1000) }, '0');
    for (let p = 0; p < 19; p++) walk.page(page(p * 10, 100, 10), false);
    now += 1;
    estimator.finish(id(c));
  }
  t.same(estimator.floor(), { floor_ms: 20_000, largest_channel_ms: 20_000, all_pages_ms: 4_000 }, '20 requests at a page a second');
  const many = new RunEstimator({ globalPerSecond: 50, paceMs: () => 1000 });
  for (let c = 0; c < 200; c++) many.walk(id(c), undefined, '0').page(page(0, 50, 10), false);
  t.same(many.floor(), { floor_ms: 8_000, largest_channel_ms: 2_000, all_pages_ms: 8_000 }, '400 requests at 50/s');
});

t.test('ETA: the downloads when they are the slower, at the throughput so far', async (t) => {
  let now = 0;
  const estimator = new RunEstimator({ globalPerSecond: 50, paceMs: () => 1000, now: () => now });
  const walk = estimator.walk(id(0), { newest: id(10) }, '0');
  walk.page(page(0, 100, 10), false); // all of it: nothing left to walk
  const context = { channel_id: id(0) };
  for (let i = 0; i < 5; i++) estimator.queued({ context, message_id: id(i), attachment_id: id(i + 0.5), size: 1_000_000 });
  now = 10_000;
  estimator.settled({ context, message_id: id(0), attachment_id: id(0.5) }, true);
  estimator.settled({ context, message_id: id(1), attachment_id: id(1.5) }, true);
  estimator.settled({ context, message_id: id(1), attachment_id: id(1.5) }, true); // told twice: counted once
  estimator.settled({ context, message_id: id(9), attachment_id: id(9.5) }, true); // never queued (a filtered file): ignored
  estimator.settled({ context, message_id: id(4), attachment_id: id(4.5) }, false); // failed: no longer waiting, not downloaded
  t.equal(estimator.estimate().eta_ms, 10_000, 'two MB downloaded in 10 s, two waiting: 10 s more');
  estimator.finish(id(0));
  t.equal(estimator.estimate().eta_ms, 0, 'a channel that ends drops the files it still had');
});

t.test('floor: without a learnt pace, no channel is floored above its own walk', async (t) => {
  let now = 0;
  const estimator = new RunEstimator({ globalPerSecond: 50, paceMs: () => 0, now: () => now });
  const walk = estimator.walk(id(0), { newest: id(1000) }, '0');
  for (let p = 0; p < 3; p++) walk.page(page(p * 10, 100, 10), false);
  now = 150; // three pages in 150 ms: no per-channel limit slowed it
  estimator.finish(id(0));
  const floor = estimator.floor()!;
  t.ok(floor.largest_channel_ms <= 150, `the channel term is at most its walk (${floor.largest_channel_ms} ms)`);
  t.equal(floor.floor_ms, Math.max(floor.largest_channel_ms, 80), 'or the global term: 4 requests at 50/s');
});

t.test('the display: each channel the share of its span done (files included), never lower, 100% only at a walk that ended', async (t) => {
  let now = 0;
  const estimator = new RunEstimator({ globalPerSecond: 50, paceMs: () => 0, now: () => now, wait: () => ({ scope: 'route', until: 5_000 }) });
  const channel = id(-10); // created 10 hours before the cursor
  const context = { guild_id: '1', guild_name: 'g', channel_id: channel, channel_name: 'c' };
  estimator.expect(channel, { newest: id(100) }, id(0));
  estimator.expect(id(1), { newest: id(100) }, '0'); // waiting
  const walk = estimator.walk(channel, { newest: id(100) }, id(0)); // from the cursor at hour 0 to the newest at hour 100
  const mark = (hours: number, down?: string) => ({ kind: 'mark' as const, context, message_id: id(hours), messages: 1, down });
  const shown = () => estimator.estimate().channels!.find((c) => c.id === channel)!;
  t.same(shown(), { id: channel, percent: 0, state: 'running' }, 'nothing done yet: 0%, no ETA');
  t.same(estimator.estimate().wait, { scope: 'route', until: 5_000 }, 'the current rate-limit wait');
  walk.page(page(0, 100, 2), false); // pages walked up to hour 50
  t.equal(shown().percent, 0, 'pages fetched are not done: their files are not downloaded yet');
  now = 10_000;
  estimator.processed(mark(25));
  t.equal(shown().percent, 25, 'a quarter of the span done');
  t.equal(shown().eta_ms, 30_000, 'the ETA at the pace of its own share: 10 s for 25%, 30 s left');
  walk.page([{ id: id(100) }], true); // the walk down from the newest message
  estimator.processed(mark(80, id(100)));
  t.equal(shown().percent, 45, 'and the part done from the top (20 of 100 hours)');
  estimator.processed(mark(10)); // an earlier message cannot move it back
  t.equal(shown().percent, 45);
  estimator.processed(mark(79.9, id(100)));
  estimator.processed(mark(79.95));
  t.equal(shown().percent, 99, 'never 100% while it runs');
  const estimate = estimator.estimate();
  t.equal(estimate.channels_total, 2);
  t.equal(estimate.channels_done, 0);
  t.ok(estimate.percent! > 0 && estimate.percent! < 99, `the run's share weighs the waiting channel (${estimate.percent}%)`);
  t.equal(estimate.wait, undefined, 'the wait is over at 10 s (it ended at 5 s)');
  estimator.walked(channel);
  estimator.finish(channel);
  t.same(shown(), { id: channel, percent: 100, state: 'done', ended_ms_ago: 0 }, '100% once its walk ended at the newest message');
  now += 6_000;
  t.equal(estimator.estimate().channels!.length, 0, 'an ended channel leaves the list after a few seconds');
});

t.test('a channel stopped before its end (abort, error) keeps its share and says so', async (t) => {
  const estimator = new RunEstimator({ globalPerSecond: 50, paceMs: () => 0, now: () => 0 });
  const channel = id(-10);
  const walk = estimator.walk(channel, { newest: id(100) }, id(0));
  walk.page(page(0, 100, 1), false);
  estimator.processed({ kind: 'mark', context: { guild_id: '1', guild_name: 'g', channel_id: channel, channel_name: 'c' }, message_id: id(40), messages: 1 });
  estimator.finish(channel);
  const estimate = estimator.estimate();
  t.same(estimate.channels, [{ id: channel, percent: 40, state: 'stopped', ended_ms_ago: 0 }]);
  t.equal(estimate.percent, 40, 'the run is not 100% either');
});

t.test('a share never goes down on screen, even when the span grows (newer messages than the channel said)', async (t) => {
  const estimator = new RunEstimator({ globalPerSecond: 50, paceMs: () => 0, now: () => 0 });
  const channel = id(-10);
  const walk = estimator.walk(channel, { newest: id(100) }, id(0));
  walk.page(page(0, 100, 1), false);
  estimator.processed({ kind: 'mark', context: { guild_id: '1', guild_name: 'g', channel_id: channel, channel_name: 'c' }, message_id: id(50), messages: 1 });
  t.equal(estimator.estimate().channels![0]!.percent, 50);
  walk.page([{ id: id(400) }], true); // the walk down finds messages up to hour 400: 50 of 400 hours done
  t.equal(estimator.estimate().channels![0]!.percent, 50, 'held at 50%, not 12%');
});
