// lib/output/progress.ts: the progress line on stderr, with the run's concurrency and ETA once it estimates them.

import t from 'tap';
import { PassThrough } from 'node:stream';
import type { Counts } from '../../lib/output/events.js';
import type { RunEstimate } from '../../lib/output/estimate.js';
import { Progress } from '../../lib/output/progress.js';

const counts = (over: Partial<Counts> = {}): Counts => ({
  messages: 12_345,
  saved: 321,
  duplicates: 4,
  skipped: 0,
  failed: 1,
  bytes: 150_200_000,
  ...over,
});

// A progress line whose clock the test sets: `seconds` after it started.
function progressAt(seconds: number, estimate?: () => RunEstimate | undefined, totals = counts()) {
  let now = Date.parse('2030-01-01T00:00:00Z');
  const stream = new PassThrough();
  const progress = new Progress(stream, () => totals, { estimate, now: () => now });
  now += seconds * 1000;
  return { progress, stream };
}

t.test('the counts and rates, as before, when the run has no estimate', async (t) => {
  const { progress } = progressAt(10);
  t.equal(progress.line(), '12,345 messages | 321 saved (4 dup) | 1 failed | 150.2 MB | 15.0 MB/s | 1,235 msg/s');
  t.equal(progressAt(10, () => undefined).progress.line(), progress.line(), 'nor while it has none yet');
});

t.test('the concurrency and the ETA once the run estimates them', async (t) => {
  let estimate: RunEstimate = { pages_left: 900, channels_left: 30, channels_running: 12, downloads: 24 };
  const { progress } = progressAt(10, () => estimate);
  t.equal(progress.line(), '12,345 messages | 321 saved (4 dup) | 1 failed | 150.2 MB | 15.0 MB/s | 1,235 msg/s | 12 ch, 24 dl', 'no ETA while unknown');
  estimate = { ...estimate, eta_ms: 192_000, downloads_waiting: 310 };
  t.equal(
    progress.line(),
    '12,345 messages | 321 saved (4 dup) | 1 failed | 150.2 MB | 15.0 MB/s | 1,235 msg/s | 12 ch, 24 dl (310 queued) | ETA 3m 12s',
    'read anew at every draw',
  );
});

t.test('stop() draws the last line (estimate included) and ends it', async (t) => {
  const { progress, stream } = progressAt(
    2,
    () => ({ eta_ms: 5_000, pages_left: 5, channels_left: 1, channels_running: 1, downloads: 8 }),
    counts({ failed: 0, duplicates: 0 }),
  );
  let written = '';
  stream.on('data', (chunk: Buffer) => (written += chunk.toString()));
  progress.start();
  progress.stop();
  t.equal(written, '\r\x1b[2K12,345 messages | 321 saved | 150.2 MB | 75.1 MB/s | 6,173 msg/s | 1 ch, 8 dl | ETA 5s\n');
});
