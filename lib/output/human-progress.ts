// What the progress display says, as pure functions of the run's state: the live block on a terminal (a header
// of one or two lines, then one line per running channel, every line cut to the terminal's width) and the plain
// line printed every --progress-interval when stderr is not a terminal. lib/output/progress.ts draws them.

import type { Counts } from './events.js';
import { formatDuration } from './estimate.js';
import type { ChannelProgress, RunEstimate } from './estimate.js';
import type { Rate } from './human-rate.js';
import { displayWidth, fitWidth, padWidth } from './human-width.js';
import { terminalSafe } from './terminal-safe.js';

// The run at one moment.
export interface ProgressState {
  elapsedMs: number;
  totals: Counts;
  rate?: Rate | undefined; // over the last ~10 s
  estimate?: RunEstimate | undefined;
  now: number; // ms since the epoch, for the time left of a rate-limit wait
  nameOf?: ((channelId: string) => string | undefined) | undefined; // "#general", "#forum/thread"
  final?: boolean; // the run has ended: totals and the average rate, no ETA
}

// At most this many channel lines, and only as many as leave the terminal a few rows.
const MAX_CHANNEL_LINES = 10;
const SEPARATOR = ' | ';

// The live block for a terminal of `columns` x `rows`: every line at most columns - 1 cells (a line that fills
// the last column leaves some terminals about to wrap), as many channel lines as fit.
export function renderBlock(state: ProgressState, columns: number, rows: number): string[] {
  const width = Math.max(1, columns - 1);
  const header = packParts(headerParts(state), width, rows >= 6 ? 2 : 1);
  const room = Math.max(0, Math.min(MAX_CHANNEL_LINES, rows - header.length - 2));
  return [...header, ...channelLines(state, room, width)];
}

// The line printed every --progress-interval: "progress: 42% | 3/12 channels, 2 running | 1,234 files | ...".
export function progressLine(state: ProgressState): string {
  return terminalSafe(`progress: ${headerParts(state).join(SEPARATOR)}`);
}

// The header's parts, most important first.
function headerParts(state: ProgressState): string[] {
  const { totals, estimate, rate } = state;
  const parts: string[] = [];
  const channels = estimate?.channels_total ? `${number(estimate.channels_done ?? 0)}/${number(estimate.channels_total)} channels` : undefined;
  const running = estimate?.channels_running && !state.final ? `, ${number(estimate.channels_running)} running` : '';
  const percent = estimate?.percent !== undefined ? `${estimate.percent}%` : undefined;
  if (percent !== undefined || channels !== undefined) parts.push([percent, channels === undefined ? undefined : channels + running].filter(Boolean).join(' '));
  const dup = totals.duplicates ? ` (${number(totals.duplicates)} dup)` : '';
  parts.push(`${number(totals.saved)} file${totals.saved === 1 ? '' : 's'}${dup}`);
  if (totals.failed) parts.push(`${number(totals.failed)} failed`);
  parts.push(formatBytes(totals.bytes));
  const wait = estimate?.wait; // before the rate: it says why the rate is low
  if (wait !== undefined && !state.final && wait.until - state.now >= 1000) {
    parts.push(`rate limit ${formatDuration(wait.until - state.now)} (${wait.scope})`);
  }
  if (state.final) {
    const seconds = Math.max(state.elapsedMs / 1000, 0.001);
    parts.push(`avg ${formatBytes(totals.bytes / seconds)}/s`);
  } else if (rate !== undefined) {
    parts.push(`${formatBytes(rate.bytesPerSecond)}/s, ${rate.filesPerSecond.toFixed(rate.filesPerSecond < 10 ? 1 : 0)} files/s`);
  }
  const eta = estimate?.eta_ms;
  const etaKnown = eta !== undefined && Number.isFinite(eta) && (eta > 0 || estimate?.percent !== undefined); // not "0s" before any channel is known
  if (!state.final && etaKnown) parts.push(`ETA ${formatDuration(eta)}`);
  parts.push(`${state.final ? 'took' : 'elapsed'} ${formatDuration(state.elapsedMs)}`);
  if (!state.final && estimate !== undefined && estimate.downloads > 0) {
    parts.push(`${number(estimate.downloads)} dl${estimate.downloads_waiting ? ` (${number(estimate.downloads_waiting)} queued)` : ''}`);
  }
  return parts.map(terminalSafe);
}

// The parts joined on at most `lines` lines of `width` cells, in order: a part that does not fit on the last
// line is left out (the first part is cut if even it does not fit).
function packParts(parts: string[], width: number, lines: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const part of parts) {
    const joined = line === '' ? part : `${line}${SEPARATOR}${part}`;
    if (displayWidth(joined) <= width) {
      line = joined;
      continue;
    }
    if (line === '') {
      out.push(fitWidth(part, width)); // a part wider than the line: cut
      if (out.length === lines) return out;
      continue;
    }
    if (out.length + 1 === lines) continue; // the last line is full: try the next, shorter parts
    out.push(line);
    line = displayWidth(part) <= width ? part : fitWidth(part, width);
  }
  if (line !== '') out.push(line);
  return out;
}

// "  42%  ETA 1m 10s   #general": running channels first, in the order they started, then those that ended lately.
function channelLines(state: ProgressState, room: number, width: number): string[] {
  const all = state.estimate?.channels ?? [];
  const running = all.filter((c) => c.state === 'running');
  const ended = all.filter((c) => c.state !== 'running');
  const listed = [...running, ...ended];
  if (room <= 0 || listed.length === 0) return [];
  const shown = listed.length > room ? listed.slice(0, room - 1) : listed;
  const lines = shown.map((channel) => fitWidth(channelLine(channel, state), width));
  const hidden = listed.length - shown.length;
  if (hidden > 0) lines.push(fitWidth(`  + ${number(hidden)} more channel${hidden === 1 ? '' : 's'}`, width));
  return lines;
}

function channelLine(channel: ChannelProgress, state: ProgressState): string {
  const percent = `${channel.percent}%`.padStart(5);
  let status: string;
  if (channel.state === 'done') status = 'done';
  else if (channel.state === 'stopped') status = 'stopped';
  else status = channel.eta_ms === undefined ? 'ETA ?' : `ETA ${formatDuration(channel.eta_ms)}`;
  const name = terminalSafe(state.nameOf?.(channel.id) ?? `channel ${channel.id}`);
  return `${percent}  ${padWidth(status, 11)}  ${name}`;
}

// 1234567 -> "1.2 MB" (decimal units, as --max-size's "MB").
export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = Number.isFinite(bytes) ? Math.max(0, bytes) : 0;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

function number(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}
