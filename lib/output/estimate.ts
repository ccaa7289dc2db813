// What a run expects is still ahead of it, as the progress line, progress.json and `dps status` show it. The run
// (lib/run-*.ts) estimates it from the pages left per channel and the current rates; this file only shapes and
// words it, so the three places agree.

// The run's estimate at one moment, handed over by a function the run installs (ArchiveHooks.onStart,
// ProgressFile.setEstimate).
export interface RunEstimate {
  eta_ms?: number; // time left for the history walk, undefined while unknown
  pages_left: number; // history pages still to fetch (estimated)
  channels_left: number; // channels not finished (running + waiting)
  channels_running: number; // channels being archived now
  downloads: number; // the current download concurrency (the adaptive pool's limit)
  downloads_waiting?: number; // files waiting for a download slot
  // For the live display (lib/output/human-progress.ts); progress.json does not carry them.
  channels?: ChannelProgress[]; // channels running, and those that ended lately
  channels_done?: number; // channels ended
  channels_total?: number; // channels known so far (more may still be listed)
  percent?: number; // the share of the run's history walked, 0..100, never lower than shown before
  wait?: CurrentWait | undefined; // the rate-limit wait requests are in now
}

// One channel's walk as the display shows it: the share of its snowflake span (cursor .. newest message) walked,
// never lower than before and 100 only once its walk reached the end, and its ETA at the pace of its own walk.
export interface ChannelProgress {
  id: string;
  percent: number; // 0..100
  eta_ms?: number; // undefined while unknown
  state: 'running' | 'done' | 'stopped'; // done: walked to the end; stopped: ended before (abort, error)
  ended_ms_ago?: number; // for ended channels: how long ago
}

// The rate-limit wait requests are in right now: which limit, and until when (ms since the epoch).
export interface CurrentWait {
  scope: 'global' | 'route';
  until: number;
}

// The `estimate` object of progress.json and of `dps status`: the run's estimate when it was written, with the
// moment the run expects to finish (`finish_at`, ISO). `eta_ms` and `finish_at` are absent while unknown.
export interface EstimateReport {
  eta_ms?: number;
  finish_at?: string;
  pages_left: number;
  channels_left: number;
  channels_running: number;
}

// 45_000 -> "45s", 192_000 -> "3m 12s", 7_500_000 -> "2h 05m", 360_000_000 -> "4d 4h": an ETA people read at a
// glance, whole seconds rounded up (a few hundred ms left is "1s", not "0s").
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return 'unknown';
  const total = Math.max(0, Math.ceil(ms / 1000));
  const s = total % 60;
  const m = Math.floor(total / 60) % 60;
  const h = Math.floor(total / 3600) % 24;
  const d = Math.floor(total / 86_400);
  if (total < 60) return `${s}s`;
  if (total < 3600) return `${m}m ${pad(s)}s`;
  if (total < 86_400) return `${h}h ${pad(m)}m`;
  return `${d}d ${h}h`;
}

// progress.json's `estimate` at `now` (ms since the epoch), or undefined when the run has none.
export function estimateReport(estimate: RunEstimate | undefined, now: number): EstimateReport | undefined {
  if (estimate === undefined) return undefined;
  const report: EstimateReport = {
    pages_left: count(estimate.pages_left),
    channels_left: count(estimate.channels_left),
    channels_running: count(estimate.channels_running),
  };
  const eta = knownEta(estimate.eta_ms);
  if (eta !== undefined) return { eta_ms: eta, finish_at: new Date(now + eta).toISOString(), ...report };
  return report;
}

// The `estimate` of a progress.json written `ageMs` ago, as `dps status` reports it: the time left shortened by
// that age (`finish_at` stays). Undefined when the file has none or it is not one (a hand-edited file).
export function agedEstimate(value: unknown, ageMs: number): EstimateReport | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const read = value as Partial<Record<keyof EstimateReport, unknown>>;
  const counts = [read.pages_left, read.channels_left, read.channels_running];
  if (!counts.every((n) => typeof n === 'number' && Number.isFinite(n) && n >= 0)) return undefined;
  const report: EstimateReport = {
    pages_left: read.pages_left as number,
    channels_left: read.channels_left as number,
    channels_running: read.channels_running as number,
  };
  const eta = typeof read.eta_ms === 'number' ? knownEta(read.eta_ms) : undefined;
  if (eta !== undefined) report.eta_ms = Math.max(0, eta - Math.max(0, ageMs));
  if (typeof read.finish_at === 'string' && !Number.isNaN(Date.parse(read.finish_at))) report.finish_at = read.finish_at;
  return report;
}

// The stderr line of `dps status` for a running scrape: "ETA 3m 12s (about 1,234 pages left in 5 channels)".
export function estimateNote(estimate: EstimateReport): string {
  const eta = estimate.eta_ms === undefined ? 'ETA not known yet' : `ETA ${formatDuration(estimate.eta_ms)}`;
  const channels = `${number(estimate.channels_left)} channel${estimate.channels_left === 1 ? '' : 's'}`;
  return `${eta} (about ${number(estimate.pages_left)} page${estimate.pages_left === 1 ? '' : 's'} left in ${channels})`;
}

// The progress line's part: "12 ch, 24 dl (310 queued) | ETA 3m 12s", the ETA only once it is known.
export function estimateParts(estimate: RunEstimate): string[] {
  const waiting = estimate.downloads_waiting ? ` (${number(estimate.downloads_waiting)} queued)` : '';
  const parts = [`${number(estimate.channels_running)} ch, ${number(estimate.downloads)} dl${waiting}`];
  const eta = knownEta(estimate.eta_ms);
  if (eta !== undefined) parts.push(`ETA ${formatDuration(eta)}`);
  return parts;
}

// A time left that can be shown: a finite number of ms, whole and not negative.
function knownEta(ms: number | undefined): number | undefined {
  return ms !== undefined && Number.isFinite(ms) ? Math.max(0, Math.round(ms)) : undefined;
}

function count(n: number): number {
  return Number.isFinite(n) ? Math.max(0, Math.round(n)) : 0;
}

function number(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}
