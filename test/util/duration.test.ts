// Durations on the command line: --max-wait and --timeout take 90s, 15m, 1h or milliseconds; anything else is a
// one-line usage error naming the flag.
import t from 'tap';
import { formatDuration, parseDuration } from '../../lib/util/duration.js';
import { UsageError } from '../../lib/errors.js';

t.test('units and plain milliseconds', async (t) => {
  t.equal(parseDuration('90s', '--max-wait'), 90_000);
  t.equal(parseDuration('15m', '--max-wait'), 900_000);
  t.equal(parseDuration('1h', '--max-wait'), 3_600_000);
  t.equal(parseDuration('1.5h', '--max-wait'), 5_400_000);
  t.equal(parseDuration('250ms', '--timeout'), 250);
  t.equal(parseDuration('60000', '--timeout'), 60_000);
  t.equal(parseDuration(' 2M ', '--timeout'), 120_000);
  t.equal(parseDuration(30_000, '--timeout'), 30_000);
});

t.test('bad values are usage errors naming the flag', async (t) => {
  for (const bad of ['', 'soon', '-5s', '0', '0s', '5d', '1h30m', 'NaN']) {
    t.throws(() => parseDuration(bad, '--max-wait'), { code: 'DPS_USAGE', message: /--max-wait.*90s, 15m, 1h/ }, JSON.stringify(bad));
  }
  t.throws(() => parseDuration(Number.POSITIVE_INFINITY, '--timeout'), UsageError);
});

t.test('formatted for people', async (t) => {
  t.equal(formatDuration(400), '400 ms');
  t.equal(formatDuration(30_000), '30 s');
  t.equal(formatDuration(1_500), '1.5 s');
  t.equal(formatDuration(90_000), '1 min 30 s');
  t.equal(formatDuration(7_200_000), '2 h');
  t.equal(formatDuration(900_000), '15 min');
});
