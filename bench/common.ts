// Shared benchmark plumbing: the fake in a child process, the CLI as a child process with its peak RSS sampled
// from /proc, medians, scratch folders, and one JSON result file per scenario (RESULTS.md is rendered from them).

import { fork, spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statfsSync, truncateSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { DpsEvent } from '../lib/index.js';
import type { FakeProcessSpec } from './fake-process.js';

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const DIST_BENCH = resolve(fileURLToPath(new URL('.', import.meta.url)));
export const CLI = join(ROOT, 'bin', 'dps.js');
export const RESULTS_DIR = join(ROOT, 'bench', 'results');

export interface FakeInfo {
  url: string;
  api: string;
  token: string;
  guild_id: string;
  channel_ids: string[];
}

export interface FakeStatsReply {
  stats: { status429: number; invalid: number; maxConcurrent: number; apiMaxConcurrent: number; cdnMaxConcurrent: number };
  api: Record<string, number>;
  history: Record<string, number>;
  cdn: Record<string, number>;
  historyTimes: Array<[number, number]>;
}

export interface ExpectedFile {
  attachment_id: string;
  size: number;
  sha256: string;
}

export interface FakeHandle extends FakeInfo {
  cpuSeconds(): number; // CPU time (user + system, all threads) the fake's process has used so far
  stats(options?: { since?: number; reset?: boolean }): Promise<FakeStatsReply>;
  expected(): Promise<ExpectedFile[]>; // every file the fake serves, with its size and sha256
  close(): Promise<void>;
  // A request answered with the same `req` (bench/fake-process.ts: post, thread, cdn); several may be in flight.
  request<T>(message: { type: string } & Record<string, unknown>): Promise<T>;
}

// Starts the fake in its own process and waits for its URL line.
export async function startFake(spec: FakeProcessSpec): Promise<FakeHandle> {
  const child = fork(join(DIST_BENCH, 'fake-process.js'), [JSON.stringify(spec)], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    execArgv: ['--max-old-space-size=4096'],
  });
  const lines = createInterface({ input: child.stdout! });
  const info = await new Promise<FakeInfo>((resolvePromise, reject) => {
    child.once('exit', (code) => reject(new Error(`fake exited with ${code}`)));
    lines.once('line', (line) => resolvePromise(JSON.parse(line) as FakeInfo));
  });
  child.removeAllListeners('exit');
  // A fake that ends before close() asked it to is said on stderr (with its code or signal); requests then fail.
  let closing = false;
  child.once('exit', (code, signal) => {
    if (!closing) log(`the fake exited on its own: code ${code}, signal ${signal}`);
  });
  // Replies to request(): matched by their `req` number.
  let nextReq = 0;
  const pending = new Map<number, (reply: unknown) => void>();
  child.on('message', (reply) => {
    const req = (reply as { req?: unknown }).req;
    if (typeof req !== 'number') return;
    pending.get(req)?.(reply);
    pending.delete(req);
  });
  return {
    ...info,
    cpuSeconds: () => (child.pid !== undefined ? (cpuSeconds(child.pid) ?? 0) : 0),
    stats: (options = {}) =>
      new Promise<FakeStatsReply>((resolvePromise) => {
        child.once('message', (reply) => resolvePromise(reply as FakeStatsReply));
        child.send({ type: 'stats', ...options });
      }),
    expected: () =>
      new Promise<ExpectedFile[]>((resolvePromise) => {
        child.once('message', (reply) => resolvePromise((reply as { files: ExpectedFile[] }).files));
        child.send({ type: 'expected' });
      }),
    request: <T>(message: { type: string } & Record<string, unknown>) =>
      new Promise<T>((resolvePromise, reject) => {
        const req = nextReq++;
        pending.set(req, (reply) => resolvePromise(reply as T));
        child.send({ ...message, req }, (error) => {
          if (!error) return;
          pending.delete(req);
          reject(error);
        });
      }),
    close: () =>
      new Promise<void>((resolvePromise) => {
        closing = true;
        if (child.exitCode !== null) return resolvePromise();
        child.once('exit', () => resolvePromise());
        child.kill('SIGTERM');
      }),
  };
}

type SummaryEvent = Extract<DpsEvent, { event: 'summary' }>;

export interface ProcessRun {
  code: number | null;
  wallMs: number;
  peakRssMB: number; // VmHWM of the process, sampled every 50 ms
  cpuSeconds: number; // user + system time of all its threads, sampled every 50 ms (the last <= 50 ms are missed)
  summary: SummaryEvent | undefined; // the NDJSON summary event of a dps run
  lines: number;
  stderr: string;
}

// Reads the peak resident set (VmHWM) of a live process, in MB.
function vmHwm(pid: number): number | undefined {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

// CPU time (user + system, all threads) of a live process, from /proc/<pid>/stat (fields 14 and 15, in clock
// ticks of 1/100 s on Linux).
function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // the command name may contain spaces
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

// Runs a command to completion, sampling its peak RSS and CPU time; `onSpawn` may schedule a signal (duration-bounded runs).
export function runProcess(
  command: string,
  args: string[],
  options: { env?: Record<string, string>; cwd?: string; onSpawn?: (child: ChildProcess) => void } = {},
): Promise<ProcessRun> {
  return new Promise((resolvePromise, reject) => {
    const started = performance.now();
    const child = spawn(command, args, {
      cwd: options.cwd ?? ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let peak = 0;
    let cpu = 0;
    const sample = (): void => {
      const hwm = child.pid !== undefined ? vmHwm(child.pid) : undefined;
      if (hwm !== undefined) peak = Math.max(peak, hwm);
      const used = child.pid !== undefined ? cpuSeconds(child.pid) : undefined;
      if (used !== undefined) cpu = Math.max(cpu, used);
    };
    const timer = setInterval(sample, 50);
    let summary: SummaryEvent | undefined;
    let lines = 0;
    let stderr = '';
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines++;
      if (line.startsWith('{"event":"summary"')) summary = JSON.parse(line) as SummaryEvent;
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      if (stderr.length < 20_000) stderr += chunk;
    });
    options.onSpawn?.(child);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearInterval(timer);
      const wallMs = performance.now() - started;
      setImmediate(() => resolvePromise({ code, wallMs, peakRssMB: peak, cpuSeconds: cpu, summary, lines, stderr }));
    });
  });
}

// The first channel of the fake, archived into `dir`: the arguments every single-channel scenario starts with.
export function channelArgs(fake: FakeInfo, dir: { out: string; state: string }): string[] {
  return ['--server-id', fake.guild_id, '--channel-id', fake.channel_ids[0]!, '--out', dir.out, '--state', dir.state];
}

// `node bin/dps.js ...` against a fake, with the token and API in the environment (as a user would).
export function runDps(fake: FakeInfo, args: string[], onSpawn?: (child: ChildProcess) => void, nodeArgs: string[] = []): Promise<ProcessRun> {
  const options: Parameters<typeof runProcess>[2] = { env: { DISCORD_TOKEN: fake.token, DISCORD_API_URL: fake.api } };
  if (onSpawn) options.onSpawn = onSpawn;
  return runProcess(process.execPath, [...nodeArgs, CLI, ...args, '--quiet'], options);
}

// A node script of the bench (a baseline) as a child process; its last stdout line is JSON.
export async function runScript(script: string, args: string[]): Promise<{ run: ProcessRun; result: Record<string, number> }> {
  let last = '';
  const run = await runProcess(process.execPath, [join(DIST_BENCH, script), ...args], {
    onSpawn: (child) => createInterface({ input: child.stdout! }).on('line', (line) => (last = line)),
  });
  if (run.code !== 0) throw new Error(`${script} exited with ${run.code}: ${run.stderr}`);
  return { run, result: JSON.parse(last) as Record<string, number> };
}

// Scratch folders are removed when the whole bench ends (removeScratch), or emptied at the end of a scenario when the
// disk is short of room, never between runs: right after thousands of files are deleted, ext4 makes every new
// file's inode allocation scan the recently freed inodes (`recently_deleted` in `perf record`), which cost
// 0.3-1.1 ms per created file here, for the baseline and dps alike, for minutes. So a run does not start right
// after the previous run's (or the previous scenario's) files were deleted. And each run starts after a `sync`,
// so the kernel is not still writing back an earlier run's gigabytes (which deleting them used to cancel). Where
// the bench may (root), the clean page cache is then dropped too: every run starts with the same free memory,
// instead of the later runs of a long bench reclaiming the earlier runs' gigabytes of cache as they write (runs
// of identical builds lost a third of their MB/s from the second pair to the fifth: bench/limits.md "Sidecars").
// The kernel's caches of inodes and names go too: the files earlier runs left behind (hundreds of thousands per
// bench, kept until its end) fill them, and a create then costs 12-25 times as much (bench/limits.md, "Creates
// slowed by the bench's own files"), which a run with --write-metadata, creating twice the files, paid twice.
const pendingScratch: string[] = [];

export async function scratch(name: string): Promise<{ dir: string; out: string; state: string; cleanup: () => void }> {
  dropCaches();
  const dir = await mkdtemp(join(tmpdir(), `dps-bench-${name}-`));
  return { dir, out: join(dir, 'out'), state: join(dir, 'state'), cleanup: () => void pendingScratch.push(dir) };
}

// Waits, before a bench measures anything, until creating files is at its usual speed: the deletions of an
// earlier bench, of `npm test` or of anything else in the last minutes make ext4 without a journal scan the
// recently freed inodes at every create (above) for up to 6 minutes (`recently_deleted`: 60 s after the
// deletion, 360 s while the inode table's block is dirty), and a run with --write-metadata creates twice the
// files of a default run, so it paid twice (bench/limits.md, "Waiting for the disk to settle"). Each probe creates
// SETTLE_FILES empty files in one scratch folder (kept, removed with the others: deleting them would start it
// again) and passes when the mean create is under SETTLE_CREATE_US; else the bench waits and probes again. A
// machine busy with something else may wait the whole SETTLE_MAX_MS: a bench is not meant to run beside other work.
const SETTLE_FILES = 1000;
const SETTLE_CREATE_US = 25; // about 6-11 us a create here when settled; 50-220 us right after mass deletions
const SETTLE_WAIT_MS = 30_000;
const SETTLE_MAX_MS = 8 * 60_000;

export async function settleDisk(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'dps-bench-settle-'));
  pendingScratch.push(dir);
  const started = Date.now();
  for (let probe = 0; ; probe++) {
    dropCaches(); // as each run starts (scratch)
    const at = performance.now();
    for (let i = 0; i < SETTLE_FILES; i++) closeSync(openSync(join(dir, `${probe}-${i}`), 'wx'));
    const us = ((performance.now() - at) * 1000) / SETTLE_FILES;
    if (us < SETTLE_CREATE_US) {
      if (probe > 0) log(`disk settled: ${us.toFixed(1)} us per create after ${((Date.now() - started) / 1000).toFixed(0)} s`);
      return;
    }
    if (Date.now() - started > SETTLE_MAX_MS) {
      log(`disk still slow to create files (${us.toFixed(0)} us each) after ${SETTLE_MAX_MS / 60_000} minutes: measuring anyway`);
      return;
    }
    log(`creating a file takes ${us.toFixed(0)} us (files deleted in the last minutes): waiting ${SETTLE_WAIT_MS / 1000} s`);
    await new Promise((resolveWait) => setTimeout(resolveWait, SETTLE_WAIT_MS));
  }
}

// Everything written so far on its way to the disk (sync), then, where the bench may (root, Linux), the clean page
// cache and the kernel's unused inodes and names dropped (drop_caches 3), so each run starts from the same state.
function dropCaches(): void {
  spawnSync('sync');
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '3');
  } catch {} // not root, or not Linux: the caches stay
}

// Scratch folders whose files were emptied to give their room back (their inodes kept): removed at the end.
const emptiedScratch: string[] = [];

// Gives back the room of the scratch folders made so far; with `unlessFreeAbove`, only when the disk has less
// room than that. Within a bench (`unlessFreeAbove`) the files are emptied, not deleted: truncating frees their
// blocks but no inode, so the runs that follow do not pay for the deletion (above, and bench/limits.md "Scratch
// clean-up"); the folders themselves go when the bench ends (no options).
export function removeScratch(options: { unlessFreeAbove?: number } = {}): void {
  if (options.unlessFreeAbove !== undefined) {
    const fs = statfsSync(tmpdir());
    if (fs.bavail * fs.bsize > options.unlessFreeAbove) return;
    for (const dir of pendingScratch.splice(0)) {
      emptyFiles(dir);
      emptiedScratch.push(dir);
    }
    return;
  }
  for (const dir of [...emptiedScratch.splice(0), ...pendingScratch.splice(0)]) rmSync(dir, { recursive: true, force: true });
}

// Every regular file under `dir` truncated to 0 bytes.
function emptyFiles(dir: string): void {
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) truncateSync(join(entry.parentPath ?? entry.path, entry.name));
  }
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

// One row of a scenario's table.
export interface Row {
  figure: string;
  value: string;
  runs?: string; // every run's value, for the reader who distrusts medians
}

// What a scenario hands to the report.
export interface ScenarioResult {
  name: string;
  title: string;
  command: string;
  setup: string;
  rows: Row[];
  targets: Array<{ target: string; measured: string; met: boolean | undefined }>;
  notes?: string[];
  measuredAt: string;
  quick: boolean;
  runs: number;
}

export function saveResult(result: ScenarioResult): void {
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(join(RESULTS_DIR, `${result.name}${result.quick ? '.quick' : ''}.json`), `${JSON.stringify(result, null, 2)}\n`);
}

export function log(line: string): void {
  process.stderr.write(`[bench] ${line}\n`);
}

export interface BenchContext {
  quick: boolean;
  runs: number;
  // `--only <part>`: a scenario's named part alone (gallery: page; s3: big), its other rows kept from the last result.
  only?: string | undefined;
}

// Whether `dps scrape --help` lists `flag`: a flag another branch is adding is measured once it exists, and
// the scenario says so when it does not.
export function dpsHasFlag(flag: string): boolean {
  const help = spawnSync(process.execPath, [CLI, 'scrape', '--help'], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' },
  });
  return new RegExp(`(^|\\s)${flag.replace(/[-]/g, '\\-')}(\\s|=|\\[|$)`, 'm').test(help.stdout ?? '');
}

// Interleaved pairs (issue 23: what a flag costs): in each round the default run and the run with the flag go
// one after the other, their order alternating, so drift on a shared VM (page cache, other load) falls on both;
// the figure is the median of the per-round ratios (flag / defaults: above 1 is faster), with their spread.
export const PAIRS = 5;
// --write-metadata's cost (issue 23's 5% target: downloads and pages) is judged on more pairs: one pair's ratio
// moves 0.90-1.07 on this VM at one true cost, so the median of 5 landed either side of 0.95 from one bench to
// the next (bench/limits.md, "Waiting for the disk to settle"); the median of 7 still landed 0.938-0.992 in
// three full runs of the same code (downloads) and 0.945-0.957 (pages), so 11 (bench/limits.md, "Creates slowed
// by the bench's own files").
export const METADATA_PAIRS = 11;

// The variants of a round, rotated so each goes first in turn.
export function rotated<T>(variants: readonly T[], round: number): T[] {
  return variants.map((_, i) => variants[(i + round) % variants.length]!);
}

// A row for the ratios of a variant's figure to the defaults' (one per round), with min-max.
export function pairRow(figure: string, ratios: readonly number[]): Row {
  if (ratios.length === 0) return { figure, value: 'not measured', runs: '' };
  const spread = `${Math.min(...ratios).toFixed(3)}-${Math.max(...ratios).toFixed(3)}`;
  return {
    figure: `${figure} (median of ${ratios.length} interleaved pairs; spread ${spread})`,
    value: median(ratios).toFixed(3),
    runs: ratios.map((r) => r.toFixed(3)).join(', '),
  };
}

// The issue-23 target: a flag's runs are within 5% of the defaults' (ratio of throughputs >= 0.95).
export function withinFivePercent(what: string, ratios: readonly number[], available: boolean): { target: string; measured: string; met: boolean | undefined } {
  const target = `${what} slows a run by <= 5% (throughput ratio to the defaults >= 0.95, interleaved pairs)`;
  if (!available || ratios.length === 0) return { target, measured: 'not measured (dps has no such flag yet)', met: undefined };
  const value = median(ratios);
  return { target, measured: `${round(value, 3)} (spread ${Math.min(...ratios).toFixed(3)}-${Math.max(...ratios).toFixed(3)})`, met: value >= 0.95 };
}
