// lib/output/progress.ts: the live block (redrawn in place, lines printed above it, left once at the end) and the
// plain lines of --progress-interval, on an injected clock and timers.

import t from 'tap';
import { PassThrough } from 'node:stream';
import type { Counts } from '../../lib/output/events.js';
import type { RunEstimate } from '../../lib/output/estimate.js';
import { Progress, ProgressLines } from '../../lib/output/progress.js';
import type { Timers } from '../../lib/output/progress.js';
import { TerminalScreen } from '../helpers/terminal-screen.js';

const counts = (over: Partial<Counts> = {}): Counts => ({ messages: 0, saved: 0, duplicates: 0, skipped: 0, failed: 0, bytes: 0, ...over });

// Timers a test fires by hand.
function manualTimers(): Timers & { fire(): void; active: number } {
  const runs = new Map<number, () => void>();
  let next = 0;
  return {
    setInterval: (run) => {
      runs.set(++next, run);
      return next;
    },
    clearInterval: (handle) => void runs.delete(handle as number),
    fire: () => {
      for (const run of runs.values()) run();
    },
    get active() {
      return runs.size;
    },
  };
}

// A terminal-sized stream whose output a TerminalScreen replays.
function terminal(columns: number, rows: number) {
  const stream = Object.assign(new PassThrough(), { columns, rows });
  const screen = new TerminalScreen(columns, rows);
  let raw = '';
  stream.on('data', (chunk: Buffer) => {
    raw += chunk.toString();
    screen.write(chunk.toString());
  });
  return { stream, screen, raw: () => raw };
}

const estimate = (over: Partial<RunEstimate> = {}): RunEstimate => ({
  pages_left: 10,
  channels_left: 2,
  channels_running: 2,
  downloads: 8,
  eta_ms: 90_000,
  channels_total: 3,
  channels_done: 1,
  percent: 40,
  channels: [
    { id: '1', percent: 30, eta_ms: 60_000, state: 'running' },
    { id: '2', percent: 55, eta_ms: 20_000, state: 'running' },
  ],
  ...over,
});

const names: Record<string, string> = { '1': '#general', '2': '#日本語の写真' };

t.test('the block is redrawn in place: frames never stack, lines printed meanwhile go above it, the end leaves one block', async (t) => {
  let now = 1_000_000;
  let totals = counts();
  let current = estimate();
  const timers = manualTimers();
  const { stream, screen } = terminal(60, 20);
  const progress = new Progress(stream, () => totals, { estimate: () => current, nameOf: (id) => names[id], now: () => now, timers });
  progress.start();
  for (let i = 1; i <= 30; i++) {
    now += 250;
    totals = counts({ saved: i * 3, bytes: i * 1_000_000 });
    if (i % 5 === 0) progress.above(() => stream.write(`saved  #general  2021-03-04  photo${i}.png  1.0 MB\n`));
    timers.fire();
  }
  current = estimate({ percent: 100, channels_done: 3, channels_running: 0, channels: [{ id: '1', percent: 100, state: 'done', ended_ms_ago: 100 }] });
  progress.stop();
  t.equal(timers.active, 0, 'the timer is stopped');
  t.same(screen.overflows, [], 'no line reaches the last column');
  const lines = screen.lines();
  t.equal(lines.filter((line) => /^\d+% /.test(line)).length, 1, `one block on screen:\n${lines.join('\n')}`);
  t.same(
    lines.filter((line) => line.startsWith('saved')),
    [5, 10, 15, 20, 25, 30].map((i) => `saved  #general  2021-03-04  photo${i}.png  1.0 MB`),
    'every printed line kept, in order, above the block',
  );
  t.match(lines.at(-3), /^100% 3\/3 channels \| 90 files \| 30\.0 MB \| avg 4\.0 MB\/s$/, 'the final header: 100% and the totals');
  t.equal(lines.at(-2), 'took 8s', 'on two lines at 60 columns');
  t.match(lines.at(-1), /^ 100% {2}done {9}#general$/, 'the channel that ended at 100%');
  const before = screen.lines().length;
  stream.write('after\n');
  t.equal(screen.lines().length, before + 1, 'the next output goes below the block, which stays');
});

t.test('the width is read again at each draw (and on resize): a narrower terminal gets shorter lines', async (t) => {
  const timers = manualTimers();
  const { stream, raw } = terminal(200, 30);
  const progress = new Progress(stream, () => counts({ saved: 1234, bytes: 5e9 }), { estimate: () => estimate(), nameOf: (id) => names[id], timers });
  progress.start();
  const wide = progress.lines();
  t.equal(wide.length, 3, 'at 200 columns: one header line and two channels');
  stream.columns = 40;
  stream.emit('resize');
  const narrow = progress.lines();
  t.ok(narrow.length > wide.length - 1 && narrow.every((line) => line.length < 40), `at 40 columns every line fits:\n${narrow.join('\n')}`);
  t.ok(raw().endsWith(narrow.join('\n')), 'resize redraws at once');
  progress.stop();
});

t.test('--progress-interval: a plain line each interval, no escape codes; stop() ends them', async (t) => {
  let now = 0;
  const timers = manualTimers();
  const stream = new PassThrough();
  let written = '';
  stream.on('data', (chunk: Buffer) => (written += chunk.toString()));
  let totals = counts();
  const lines = new ProgressLines(stream, () => totals, { estimate: () => estimate(), now: () => now, timers, intervalMs: 60_000 });
  lines.start();
  t.equal(written, '', 'nothing before the first interval');
  now = 60_000;
  totals = counts({ saved: 600, bytes: 60_000_000 });
  timers.fire();
  now = 120_000;
  totals = counts({ saved: 1200, bytes: 120_000_000 });
  timers.fire();
  lines.stop();
  t.equal(timers.active, 0);
  const printed = written.split('\n').filter(Boolean);
  t.equal(printed.length, 2, 'one line per interval');
  t.equal(printed[1], 'progress: 40% 1/3 channels, 2 running | 1,200 files | 120.0 MB | 1.0 MB/s, 10 files/s | ETA 1m 30s | elapsed 2m 00s | 8 dl');
  t.notOk(written.includes(String.fromCharCode(0x1b)), 'no escape codes');
});
