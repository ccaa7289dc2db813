// lib/output/estimate.ts: how the run's estimate is worded (ETA, concurrency) and carried through progress.json
// to `dps status` (the time left shortened by the file's age).

import t from 'tap';
import { agedEstimate, estimateNote, estimateParts, estimateReport, formatDuration } from '../../lib/output/estimate.js';
import type { RunEstimate } from '../../lib/output/estimate.js';

t.test('formatDuration: seconds, then minutes and seconds, hours and minutes, days and hours', async (t) => {
  t.equal(formatDuration(45_000), '45s');
  t.equal(formatDuration(0), '0s');
  t.equal(formatDuration(300), '1s', 'a part of a second left is rounded up, never "0s" while not done');
  t.equal(formatDuration(59_000), '59s');
  t.equal(formatDuration(60_000), '1m 00s');
  t.equal(formatDuration(192_000), '3m 12s');
  t.equal(formatDuration(185_000), '3m 05s', 'seconds padded after minutes');
  t.equal(formatDuration(3_599_000), '59m 59s');
  t.equal(formatDuration(3_600_000), '1h 00m');
  t.equal(formatDuration(2 * 3_600_000 + 5 * 60_000 + 30_000), '2h 05m', 'seconds dropped after hours');
  t.equal(formatDuration(86_399_000), '23h 59m');
  t.equal(formatDuration(86_400_000), '1d 0h');
  t.equal(formatDuration(3 * 86_400_000 + 4 * 3_600_000 + 59 * 60_000), '3d 4h', 'minutes dropped after days');
  t.equal(formatDuration(400 * 86_400_000), '400d 0h', 'days do not wrap');
  t.equal(formatDuration(-5_000), '0s', 'an estimate past its time is 0s');
  t.equal(formatDuration(Number.NaN), 'unknown');
  t.equal(formatDuration(Number.POSITIVE_INFINITY), 'unknown');
});

const estimate = (over: Partial<RunEstimate> = {}): RunEstimate => ({
  eta_ms: 192_000,
  pages_left: 1234,
  channels_left: 5,
  channels_running: 3,
  downloads: 24,
  ...over,
});

t.test('estimateParts: concurrency always, the queue when there is one, the ETA once known', async (t) => {
  t.same(estimateParts(estimate()), ['3 ch, 24 dl', 'ETA 3m 12s']);
  t.same(estimateParts(estimate({ downloads_waiting: 1310 })), ['3 ch, 24 dl (1,310 queued)', 'ETA 3m 12s']);
  t.same(estimateParts(estimate({ downloads_waiting: 0 })), ['3 ch, 24 dl', 'ETA 3m 12s'], 'an empty queue is not shown');
  const unknown = estimate();
  delete unknown.eta_ms;
  t.same(estimateParts(unknown), ['3 ch, 24 dl'], 'no ETA while unknown');
  t.same(estimateParts(estimate({ eta_ms: Number.NaN })), ['3 ch, 24 dl'], 'nor when it is not a number');
});

t.test('estimateReport: progress.json gets the counts, and eta_ms with finish_at once the ETA is known', async (t) => {
  const now = Date.parse('2030-01-01T00:00:00Z');
  t.same(estimateReport(estimate(), now), {
    eta_ms: 192_000,
    finish_at: '2030-01-01T00:03:12.000Z',
    pages_left: 1234,
    channels_left: 5,
    channels_running: 3,
  });
  const unknown = estimate();
  delete unknown.eta_ms;
  const report = estimateReport(unknown, now);
  t.same(report, { pages_left: 1234, channels_left: 5, channels_running: 3 });
  t.notOk(report && 'eta_ms' in report, 'no eta_ms while unknown');
  t.notOk(report && 'finish_at' in report, 'no finish_at while unknown');
  t.equal(estimateReport(undefined, now), undefined, 'no estimate: none');
  t.same(
    estimateReport(estimate({ eta_ms: 1500.4, pages_left: 10.6 }), now),
    {
      eta_ms: 1500,
      finish_at: '2030-01-01T00:00:01.500Z',
      pages_left: 11,
      channels_left: 5,
      channels_running: 3,
    },
    'whole numbers',
  );
});

t.test('agedEstimate: the time left shortened by the age of the file, finish_at kept; anything else dropped', async (t) => {
  const written = { eta_ms: 192_000, finish_at: '2030-01-01T00:03:12.000Z', pages_left: 1234, channels_left: 5, channels_running: 3 };
  t.same(agedEstimate(written, 12_000), { ...written, eta_ms: 180_000 });
  t.same(agedEstimate(written, 500_000), { ...written, eta_ms: 0 }, 'never below 0');
  t.same(agedEstimate(written, -10), written, 'a file from the future is not made older');
  const counts = { pages_left: 1234, channels_left: 5, channels_running: 3 };
  t.same(agedEstimate(counts, 12_000), counts, 'an unknown ETA stays unknown');
  t.equal(agedEstimate(undefined, 0), undefined);
  t.equal(agedEstimate('soon', 0), undefined);
  t.equal(agedEstimate({ ...written, pages_left: 'many' }, 0), undefined, 'a hand-edited file');
  t.equal(agedEstimate({ ...written, channels_left: -1 }, 0), undefined);
  t.same(agedEstimate({ ...written, eta_ms: 'x', finish_at: 'never' }, 0), counts, 'a bad eta or finish_at is left out');
});

t.test('estimateNote: the ETA and what is left, in words', async (t) => {
  t.equal(estimateNote({ eta_ms: 192_000, pages_left: 1234, channels_left: 5, channels_running: 3 }), 'ETA 3m 12s (about 1,234 pages left in 5 channels)');
  t.equal(estimateNote({ eta_ms: 1_000, pages_left: 1, channels_left: 1, channels_running: 1 }), 'ETA 1s (about 1 page left in 1 channel)');
  t.equal(estimateNote({ pages_left: 0, channels_left: 2, channels_running: 2 }), 'ETA not known yet (about 0 pages left in 2 channels)');
});
