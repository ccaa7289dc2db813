// lib/output/human-progress.ts, human-width.ts and human-rate.ts: what the block says, as pure functions of the
// state and the terminal's size; widths counted in cells (CJK and emoji take two); the rate over a sliding window.

import t from 'tap';
import type { RunEstimate } from '../../lib/output/estimate.js';
import type { Counts } from '../../lib/output/events.js';
import { progressLine, renderBlock } from '../../lib/output/human-progress.js';
import type { ProgressState } from '../../lib/output/human-progress.js';
import { RateWindow } from '../../lib/output/human-rate.js';
import { displayWidth, fitLines, fitWidth, wrapLines } from '../../lib/output/human-width.js';

const totals: Counts = { messages: 9000, saved: 1234, duplicates: 5, skipped: 0, failed: 2, bytes: 1_500_000_000 };
const estimate: RunEstimate = {
  pages_left: 100,
  channels_left: 9,
  channels_running: 3,
  downloads: 16,
  downloads_waiting: 40,
  eta_ms: 725_000,
  channels_total: 12,
  channels_done: 3,
  percent: 42,
  wait: { scope: 'global', until: 1_000_000 + 5_000 },
  channels: [
    { id: '1', percent: 30, eta_ms: 65_000, state: 'running' },
    { id: '2', percent: 7, state: 'running' },
    { id: '3', percent: 88, eta_ms: 3_000, state: 'running' },
    { id: '4', percent: 100, state: 'done', ended_ms_ago: 500 },
  ],
};
const names: Record<string, string> = {
  '1': '#general',
  '2': '#日本語の写真チャンネル-とても長い名前です-アート-もっと長く',
  '3': '#🎨🎨🎨-art-and-more-art-with-a-very-long-name-indeed-🖼️🖼️-and-more',
  '4': '#\x1b[2Jevil',
};
const state = (over: Partial<ProgressState> = {}): ProgressState => ({
  elapsedMs: 125_000,
  totals,
  rate: { filesPerSecond: 12.5, bytesPerSecond: 3_400_000 },
  estimate,
  now: 1_000_000,
  nameOf: (id) => names[id],
  ...over,
});

t.test('display widths: ASCII 1, CJK and emoji 2, combining marks 0; cuts never split a character', async (t) => {
  t.equal(displayWidth('abc'), 3);
  t.equal(displayWidth('日本語'), 6);
  t.equal(displayWidth('🎨'), 2);
  t.equal(displayWidth('🖼️'), 2, 'emoji with a variation selector');
  t.equal(displayWidth('👩‍👩‍👧'), 2, 'a ZWJ family is one grapheme');
  t.equal(displayWidth('🇯🇵'), 2, 'a flag');
  t.equal(displayWidth('e\u0301'), 1, 'a combining accent');
  t.equal(displayWidth('ｆｕｌｌ'), 8, 'fullwidth forms');
  // Format characters a terminal draws in a cell (wcwidth 1): a name of soft hyphens counted as 0 cells wrapped.
  t.equal(displayWidth('\u00ad'.repeat(10)), 10, 'soft hyphens take a cell each');
  t.equal(displayWidth('\u06001'), 2, 'a prepended concatenation mark and its digit');
  t.equal(displayWidth(fitWidth(`#${'\u00ad'.repeat(100)}`, 20)), 20, 'a cut name of soft hyphens fits');
  t.equal(fitWidth('日本語の写真', 7), '日本語…', 'a wide character that would cross the edge is left out');
  t.equal(displayWidth(fitWidth('🎨🎨🎨🎨', 5)), 5);
  t.equal(fitWidth('short', 10), 'short');
  t.equal(fitLines('日本語の写真\nab\n', 5), '日本…\nab\n');
  const wrapped = wrapLines('日本語の写真チャンネル', 7);
  t.ok(
    wrapped.split('\n').every((line) => displayWidth(line) <= 7),
    wrapped,
  );
  t.equal(wrapped.replace(/\n/g, ''), '日本語の写真チャンネル', 'wrapping loses nothing');
});

for (const columns of [60, 200]) {
  t.test(`the block at ${columns} columns: every line under the width, a header and the channels`, async (t) => {
    const lines = renderBlock(state(), columns, 30);
    t.ok(
      lines.every((line) => displayWidth(line) <= columns - 1),
      `every line at most ${columns - 1} cells:\n${lines.join('\n')}`,
    );
    const header = lines.slice(0, columns === 200 ? 1 : 2).join(' | ');
    for (const part of ['42% 3/12 channels, 3 running', '1,234 files (5 dup)', '2 failed', '1.5 GB', 'rate limit 5s (global)', 'ETA 12m 05s']) {
      t.ok(header.includes(part), `the header says "${part}"`);
    }
    if (columns === 200) t.ok(header.includes('3.4 MB/s, 13 files/s'), 'the rate over the window');
    t.match(
      lines.find((line) => line.includes('#general')),
      /^ {2}30% {2}ETA 1m 05s {3}#general$/,
    );
    t.match(
      lines.find((line) => line.includes('日本語')),
      /^ {3}7% {2}ETA \? {8}#日本語/,
      'ETA unknown before any share is walked',
    );
    t.match(lines.at(-1), /^ 100% {2}done {9}#\\x1b\[2Jevil$/, 'ended channels last; names terminal-escaped');
    if (columns === 60)
      t.ok(
        lines.some((line) => line.endsWith('…')),
        'long names cut',
      );
    else
      t.ok(
        lines.some((line) => line.endsWith('#日本語の写真チャンネル-とても長い名前です-アート-もっと長く')),
        'whole names when they fit',
      );
  });
}

t.test('a short terminal lists fewer channels, and says how many more', async (t) => {
  const lines = renderBlock(state(), 80, 6);
  t.ok(lines.length <= 4, `at most rows - 2 lines:\n${lines.join('\n')}`);
  t.match(lines.at(-1), /^ {2}\+ \d more channels?$/);
  t.same(renderBlock(state(), 80, 3).length, 1, 'a tiny terminal: the header alone');
});

t.test('the final block: the totals and the average rate, no ETA and no wait', async (t) => {
  const lines = renderBlock(state({ final: true, estimate: { ...estimate, percent: 100, channels_done: 12, channels_running: 0, channels: [] } }), 200, 30);
  t.equal(lines.length, 1);
  t.equal(lines[0], '100% 12/12 channels | 1,234 files (5 dup) | 2 failed | 1.5 GB | avg 12.0 MB/s | took 2m 05s');
});

t.test('before the run estimates anything: the counts alone', async (t) => {
  t.same(renderBlock(state({ estimate: undefined, rate: undefined }), 80, 24), ['1,234 files (5 dup) | 2 failed | 1.5 GB | elapsed 2m 05s']);
  t.equal(progressLine(state({ estimate: undefined, rate: undefined })), 'progress: 1,234 files (5 dup) | 2 failed | 1.5 GB | elapsed 2m 05s');
});

t.test('the rate is over the last ~10 s, not since the start', async (t) => {
  let now = 0;
  const window = new RateWindow(() => now);
  window.sample(0, 0);
  t.equal(window.rate(), undefined, 'one sample: no rate yet');
  // 60 s at 10 files/s, then 20 s at 1 file/s.
  for (let s = 1; s <= 60; s++) {
    now = s * 1000;
    window.sample(s * 10, s * 10_000_000);
  }
  t.equal(window.rate()?.filesPerSecond, 10);
  for (let s = 61; s <= 80; s++) {
    now = s * 1000;
    window.sample(600 + (s - 60), 600_000_000 + (s - 60) * 1_000_000);
  }
  const rate = window.rate()!;
  t.equal(rate.filesPerSecond, 1, `the slow last 10 s (the average since the start would be ${620 / 80})`);
  t.equal(rate.bytesPerSecond, 1_000_000);
});
