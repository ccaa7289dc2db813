// The plan's progress.json: what `dps status` would print, kept by a running scrape beside its state
// (data/progress.json for data/state, see progressFilePath), so `dps status` can answer while the run holds the state's lock, and a later
// run can tell that the state lost records it had (lib/run-damage-check.ts). Written atomically (temp file,
// fsync, rename), at most every `intervalMs`, and at the end of the run.

import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { agedEstimate, estimateReport } from './estimate.js';
import type { RunEstimate } from './estimate.js';
import { statusEntry } from './status-report.js';
import type { StatusReport } from './status-report.js';
import type { Store } from '../store/store.js';
import type { ChannelRecord } from '../types.js';

// How often a run rewrites progress.json while it works (and once more at its end).
export const PROGRESS_INTERVAL_MS = 2_000;

export interface ProgressFileOptions {
  intervalMs?: number; // [PROGRESS_INTERVAL_MS]
  now?: () => number; // the clock for `updated_at` [Date.now]
  onError?: (error: unknown) => void; // a write that failed (the run goes on; the next write tries again)
  recovering?: boolean; // this run recovers a damaged state: every write says so until recovered()
  command?: string; // the dps command of the run (scrape, follow, retry-failed): named to processes the state's lock refuses
}

// progress.json: the status report, the absolute state directory it describes, when it was written, and
// whether the run was still going (while it is, the run's `estimate` of what is left, once it has one). `recovering`: a run found the state damaged and has not completed since
// (lib/run-progress.ts): the next run recovers too, even though the counts here are the damaged state's.
export interface ProgressFileReport extends StatusReport {
  state: string;
  updated_at: string;
  running: boolean;
  recovering?: true;
  // The command of the run that wrote it, and how often it rewrites it while it runs: another process refused by
  // the state's lock names it while the file is fresh (lib/output/state-holder.ts). Absent from older files.
  command?: string;
  interval_ms?: number;
}

// Beside the state: data/progress.json for the default data/state (the seed plan's layout), and
// <name>.progress.json for a state folder of any other name, so two states in one folder never share one.
export function progressFilePath(state: string): string {
  const absolute = path.resolve(state);
  const name = path.basename(absolute);
  return path.join(path.dirname(absolute), name === 'state' ? 'progress.json' : `${name}.progress.json`);
}

// The progress.json of this state, or undefined when there is none, it is unreadable, or it describes another state.
export async function readProgressFile(state: string): Promise<ProgressFileReport | undefined> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await fs.readFile(progressFilePath(state), 'utf8'));
  } catch {
    return undefined;
  }
  const report = parsed as Partial<ProgressFileReport> | null;
  if (report === null || typeof report !== 'object' || typeof report.servers !== 'object' || report.servers === null) return undefined;
  if (typeof report.state !== 'string' || typeof report.updated_at !== 'string' || !(await sameFolder(report.state, state))) return undefined;
  return report as ProgressFileReport;
}

// `dps status` while a run holds the state: its progress.json (this state's only), with its age, the command
// that runs (while the file names one, see runningCommand), and the run's estimate with the time left shortened
// by that age. A file that names no running command marks no channel `following` (its follow was killed).
export async function runningStatus(state: string, filter: { guildId?: string } = {}, now: () => number = Date.now): Promise<StatusReport | undefined> {
  const file = await readProgressFile(state);
  if (file === undefined) return undefined;
  const servers = filter.guildId === undefined ? file.servers : Object.fromEntries(Object.entries(file.servers).filter(([id]) => id === filter.guildId));
  const at = now();
  const report: StatusReport = { servers, as_of: file.updated_at, age_ms: Math.max(0, at - Date.parse(file.updated_at)) };
  const command = runningCommand(file, at);
  if (command !== undefined) report.command = command;
  else for (const server of Object.values(servers)) for (const entry of Object.values(server.channels ?? {})) delete entry.following;
  const estimate = file.running === true ? agedEstimate(file.estimate, report.age_ms ?? 0) : undefined;
  if (estimate !== undefined) report.estimate = estimate;
  return report;
}

// A running run's file is fresh this long after it was written (or five of its rewrite intervals, if longer).
export const HOLDER_FRESH_MS = 30_000;

// The command a progress.json names as running now (its run holds the state's lock, see state-holder.ts), or
// undefined when it names none: not running, stale (its run was killed), or from a dps that did not record it.
export function runningCommand(file: ProgressFileReport | undefined, now: number): string | undefined {
  if (file?.running !== true || typeof file.command !== 'string' || !/^[a-z][a-z-]{0,31}$/.test(file.command)) return undefined;
  const interval = typeof file.interval_ms === 'number' && Number.isFinite(file.interval_ms) ? file.interval_ms : 0;
  const age = now - Date.parse(file.updated_at);
  return age <= Math.max(HOLDER_FRESH_MS, 5 * interval) ? file.command : undefined;
}

// Keeps progress.json up to date during one run: start() once the store is open, close() before it closes.
export class ProgressFile {
  readonly #store: Store;
  readonly #state: string;
  readonly #file: string;
  readonly #temp: string;
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #onError: ((error: unknown) => void) | undefined;
  readonly #atStart = new Map<string, ChannelRecord>(); // every channel of the state when the run began
  readonly #pendingAtStart = new Map<string, number>(); // its retry queue then
  #recovering: boolean;
  #command: string | undefined;
  #estimate: (() => RunEstimate | undefined) | undefined;
  #following: (() => Iterable<string>) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> | undefined;

  constructor(store: Store, state: string, options: ProgressFileOptions = {}) {
    this.#store = store;
    this.#state = path.resolve(state);
    this.#file = progressFilePath(state);
    this.#temp = `${this.#file}.${randomBytes(4).toString('hex')}.tmp`;
    this.#intervalMs = options.intervalMs ?? PROGRESS_INTERVAL_MS;
    this.#now = options.now ?? Date.now;
    this.#onError = options.onError;
    this.#recovering = options.recovering === true;
    this.#command = options.command;
  }

  // Reads what the state holds now, writes the file once and then every intervalMs.
  async start(signal?: AbortSignal): Promise<void> {
    for await (const item of this.#store.failedItems({}, signal))
      this.#pendingAtStart.set(item.channel_id, (this.#pendingAtStart.get(item.channel_id) ?? 0) + 1);
    for await (const channel of this.#store.channels(signal)) this.#atStart.set(channel.channel_id, channel);
    await this.#write(true);
    this.#timer = setInterval(() => void this.#write(true), this.#intervalMs);
    this.#timer.unref();
  }

  // The run's estimate of what is left: every write while it runs carries it as `estimate` (lib/output/estimate.ts).
  setEstimate(estimate: () => RunEstimate | undefined): void {
    this.#estimate = estimate;
  }

  // `dps follow`: the channels it follows now; every write while it runs marks them `following: true`.
  setFollowing(following: () => Iterable<string>): void {
    this.#following = following;
    this.#command = 'follow'; // a run that follows channels is a dps follow, whatever it was opened as
  }

  // The recovery run completed without being stopped: the last write drops the `recovering` mark.
  recovered(): void {
    this.#recovering = false;
  }

  // The last write, with `running: false`.
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#writing;
    this.#writing = undefined;
    await this.#write(false);
  }

  // The report as the state stands now: records at start, overlaid with those this run has touched.
  snapshot(running: boolean): ProgressFileReport {
    const now = this.#now();
    const report: ProgressFileReport = { servers: {}, state: this.#state, updated_at: new Date(now).toISOString(), running };
    if (this.#recovering) report.recovering = true;
    if (this.#command !== undefined) report.command = this.#command;
    report.interval_ms = this.#intervalMs;
    const estimate = running ? estimateReport(this.#estimate?.(), now) : undefined;
    if (estimate !== undefined) report.estimate = estimate;
    const channels = new Map(this.#atStart);
    for (const channel of this.#store.cachedChannels()) channels.set(channel.channel_id, channel);
    for (const channel of channels.values()) {
      const server = report.servers[channel.guild_id] ?? { name: channel.guild_name, channels: {} };
      report.servers[channel.guild_id] = server;
      if (!server.name && channel.guild_name) server.name = channel.guild_name;
      const failedDelta = channel.failed - (this.#atStart.get(channel.channel_id)?.failed ?? 0);
      server.channels[channel.channel_id] = statusEntry(channel, Math.max(0, (this.#pendingAtStart.get(channel.channel_id) ?? 0) + failedDelta));
    }
    if (running) this.#markFollowing(report);
    return report;
  }

  #markFollowing(report: ProgressFileReport): void {
    if (this.#following === undefined) return;
    const followed = new Set(this.#following());
    for (const server of Object.values(report.servers)) for (const [id, entry] of Object.entries(server.channels)) if (followed.has(id)) entry.following = true;
  }

  // One write at a time; a tick that finds one under way is skipped.
  #write(running: boolean): Promise<void> {
    if (this.#writing !== undefined) return this.#writing;
    const writing = this.#replace(`${JSON.stringify(this.snapshot(running), null, 2)}\n`)
      .catch((error: unknown) => this.#onError?.(error))
      .finally(() => {
        if (this.#writing === writing) this.#writing = undefined;
      });
    this.#writing = writing;
    return writing;
  }

  #replace(text: string): Promise<void> {
    return replaceFile(this.#file, this.#temp, text);
  }
}

// Marks the state as recovering before the run says it is damaged: the previous progress.json (the evidence)
// is kept as it was, with `recovering: true`, so a run stopped at any point after this leaves the mark.
export async function markRecovering(state: string, previous: ProgressFileReport | undefined, now: () => number = Date.now): Promise<void> {
  const report: ProgressFileReport = previous ?? { servers: {}, state: path.resolve(state), updated_at: new Date(now()).toISOString(), running: true };
  const file = progressFilePath(state);
  await replaceFile(file, `${file}.${randomBytes(4).toString('hex')}.tmp`, `${JSON.stringify({ ...report, recovering: true }, null, 2)}\n`);
}

// temp file + fsync + rename: a reader sees the old file or the new one, never a part.
async function replaceFile(file: string, temp: string, text: string): Promise<void> {
  try {
    const handle = await fs.open(temp, 'w', 0o644);
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(temp, file);
  } catch (error) {
    await fs.rm(temp, { force: true }).catch(() => undefined); // a full disk or a failed rename leaves no temp file
    throw error;
  }
}

// One folder by two names: the same path, or the same real path (a state reached through a symlinked folder).
async function sameFolder(a: string, b: string): Promise<boolean> {
  if (path.resolve(a) === path.resolve(b)) return true;
  const [realA, realB] = await Promise.all([fs.realpath(a).catch(() => undefined), fs.realpath(b).catch(() => undefined)]);
  return realA !== undefined && realA === realB;
}
