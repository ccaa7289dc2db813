// follow (issue 24): `dps follow --server-id G --all-channels` at the defaults against the fake's REST API and
// Gateway, Discord-like rate limits. Latency: after the catch-up, messages with images are posted at a steady rate,
// in bursts of 100/s into several channels, and into threads created on the spot; each file's latency is the time
// from its post (the fake's clock) to dps's `saved` event reaching the bench (after fsync and rename). Memory: a
// long run at 20 messages/s with the RSS of the dps process sampled from /proc. Both end with SIGINT and a check of
// the archive: every posted file on disk once, byte-exact, announced once, downloaded once (the fake's CDN log).

import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { log, median, round, runDps, scratch, startFake } from '../common.js';
import type { BenchContext, ExpectedFile, FakeHandle, ProcessRun, Row, ScenarioResult } from '../common.js';
import { discordLike } from '../server-run.js';

// The server caught up before the live part: a few channels with some history.
const CHANNELS = 6;
const HISTORY = 300;

interface Posted {
  at: number; // the fake's Date.now() at the post
  phase: string;
  files: ExpectedFile[];
}

interface GatewayCounters {
  connections: number;
  identifies: number;
  resumes: number;
}

// A running `dps follow` with what it announced: when each `saved` event reached the bench, per attachment id.
interface Follower {
  child: () => ChildProcess | undefined;
  savedAt: Map<string, number[]>;
  done: Set<string>; // channel ids with a channel_done event
  rss: Array<[number, number]>; // [Date.now(), VmRSS in MB]
  exited: Promise<ProcessRun>;
  lines: () => number;
}

function vmRss(pid: number): number | undefined {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

function startFollow(fake: FakeHandle, dir: { out: string; state: string }, rssEveryMs: number): Follower {
  let child: ChildProcess | undefined;
  const savedAt = new Map<string, number[]>();
  const done = new Set<string>();
  const rss: Array<[number, number]> = [];
  let lines = 0;
  const args = ['follow', '--server-id', fake.guild_id, '--all-channels', '--out', dir.out, '--state', dir.state];
  const exited = runDps(fake, args, (spawned) => {
    child = spawned;
    const timer = setInterval(() => {
      const value = spawned.pid !== undefined ? vmRss(spawned.pid) : undefined;
      if (value !== undefined) rss.push([Date.now(), value]);
    }, rssEveryMs);
    spawned.once('exit', () => clearInterval(timer));
    createInterface({ input: spawned.stdout! }).on('line', (line) => {
      const at = Date.now();
      lines++;
      if (line.startsWith('{"event":"saved"')) {
        const id = String((JSON.parse(line) as { attachment_id: string }).attachment_id);
        const times = savedAt.get(id);
        if (times) times.push(at);
        else savedAt.set(id, [at]);
      } else if (line.startsWith('{"event":"channel_done"')) {
        done.add(String((JSON.parse(line) as { channel_id: string }).channel_id));
      }
    });
  });
  return { child: () => child, savedAt, done, rss, exited, lines: () => lines };
}

// Waits until `test` holds, polling; false after `timeoutMs` or when dps has exited.
async function until(test: () => boolean, timeoutMs: number, follower: Follower): Promise<boolean> {
  let ended = false;
  void follower.exited.then(() => (ended = true));
  const deadline = Date.now() + timeoutMs;
  while (!test()) {
    if (ended || Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

// Calls `action(i)` for i < count at `perSecond`, on a schedule of absolute times (a late call does not delay the next).
async function paced(count: number, perSecond: number, action: (i: number) => Promise<unknown>): Promise<void> {
  const start = performance.now();
  const pending: Array<Promise<unknown>> = [];
  for (let i = 0; i < count; i++) {
    const wait = start + (i * 1000) / perSecond - performance.now();
    if (wait > 0) await sleep(wait);
    pending.push(action(i));
  }
  await Promise.all(pending);
}

function post(fake: FakeHandle, into: Posted[], phase: string, channelId: string, attachments = 1): Promise<unknown> {
  return fake
    .request<Posted & { id: string }>({ type: 'post', channelId, attachments })
    .then((reply) => into.push({ at: reply.at, phase, files: reply.files }));
}

// Nearest-rank quantile.
function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

// Content (`sha256:size`) -> how many files of the folder hold it.
async function contents(dir: string): Promise<Map<string, number>> {
  const have = new Map<string, number>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of createReadStream(join(entry.parentPath, entry.name))) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
    const key = `${hash.digest('hex')}:${size}`;
    have.set(key, (have.get(key) ?? 0) + 1);
  }
  return have;
}

interface Checked {
  posted: number; // files posted live
  saved: number; // of them, with a saved event
  onDisk: number; // of them, on disk byte-exact (size + sha256)
  storedTwice: number; // of them, on disk more than once
  announcedTwice: number; // of them, with more than one saved event
  downloadedTwice: number; // of them, with more than one successful CDN response
  downloadedTwiceAll: number; // any file of the fake (the catch-up's too) with more than one successful CDN response
  latencies: Map<string, number[]>; // phase -> ms from post to saved event, per file
  code: number | null;
  gateway: GatewayCounters;
}

// SIGINT once every posted file is announced (or after `drainMs`), then the checks.
async function finish(fake: FakeHandle, follower: Follower, posted: Posted[], out: string, drainMs: number): Promise<Checked> {
  const files = posted.flatMap((p) => p.files);
  const complete = await until(() => files.every((f) => follower.savedAt.has(f.attachment_id)), drainMs, follower);
  if (!complete) log(`follow: ${files.filter((f) => !follower.savedAt.has(f.attachment_id)).length} posted files not announced after ${drainMs / 1000} s`);
  follower.child()?.kill('SIGINT');
  const run = await follower.exited;
  if (run.code !== 130) log(`follow: dps exited ${run.code}: ${run.stderr.slice(-2000)}`);
  const cdn = await fake.request<{ downloads: Record<string, number>; gateway: GatewayCounters }>({ type: 'cdn' });
  const have = await contents(out);
  const latencies = new Map<string, number[]>();
  let saved = 0;
  let onDisk = 0;
  let storedTwice = 0;
  let announcedTwice = 0;
  let downloadedTwice = 0;
  for (const p of posted) {
    for (const f of p.files) {
      const times = follower.savedAt.get(f.attachment_id);
      if (times) {
        saved++;
        if (times.length > 1) announcedTwice++;
        const list = latencies.get(p.phase) ?? [];
        list.push(times[0]! - p.at);
        latencies.set(p.phase, list);
      }
      const copies = have.get(`${f.sha256}:${f.size}`) ?? 0;
      if (copies >= 1) onDisk++;
      if (copies > 1) storedTwice++;
      if ((cdn.downloads[f.attachment_id] ?? 0) > 1) downloadedTwice++;
    }
  }
  const downloadedTwiceAll = Object.values(cdn.downloads).filter((n) => n > 1).length;
  return {
    posted: files.length,
    saved,
    onDisk,
    storedTwice,
    announcedTwice,
    downloadedTwice,
    downloadedTwiceAll,
    latencies,
    code: run.code,
    gateway: { connections: cdn.gateway.connections, identifies: cdn.gateway.identifies, resumes: cdn.gateway.resumes },
  };
}

async function withFollow<T>(
  name: string,
  rssEveryMs: number,
  live: (fake: FakeHandle, follower: Follower, channels: string[], out: string) => Promise<T>,
): Promise<T> {
  const fake = await startFake({
    scenario: { kind: 'server', channels: CHANNELS, messages: HISTORY, imageRatio: 0.1 },
    options: { rateLimit: discordLike(), requestLogLimit: 1_000_000 },
  });
  const dir = await scratch(`follow-${name}`);
  try {
    const follower = startFollow(fake, dir, rssEveryMs);
    const caughtUp = await until(() => fake.channel_ids.every((id) => follower.done.has(id)), 120_000, follower);
    if (!caughtUp) {
      follower.child()?.kill('SIGINT');
      const run = await follower.exited;
      throw new Error(`dps follow did not catch up (exit ${run.code}): ${run.stderr.slice(-2000)}`);
    }
    await sleep(1000); // the catch-up's last writes settle before the live part
    return await live(fake, follower, fake.channel_ids, dir.out);
  } finally {
    dir.cleanup();
    await fake.close();
  }
}

function checkRows(label: string, c: Checked): Row[] {
  return [
    {
      figure: `${label}: posted files / announced / on disk byte-exact (size + sha256)`,
      value: `${c.posted} / ${c.saved} / ${c.onDisk}`,
    },
    {
      figure: `${label}: posted files stored twice / announced twice / downloaded twice (CDN log); any file downloaded twice`,
      value: `${c.storedTwice} / ${c.announcedTwice} / ${c.downloadedTwice}; ${c.downloadedTwiceAll}`,
    },
    {
      figure: `${label}: gateway connections / IDENTIFYs / RESUMEs; exit code after SIGINT`,
      value: `${c.gateway.connections} / ${c.gateway.identifies} / ${c.gateway.resumes}; ${c.code}`,
    },
  ];
}

const ms = (v: number): string => (Number.isNaN(v) ? 'n/a' : `${Math.round(v)} ms`);

function clean(c: Checked): boolean {
  return (
    c.saved === c.posted &&
    c.onDisk === c.posted &&
    c.storedTwice === 0 &&
    c.announcedTwice === 0 &&
    c.downloadedTwice === 0 &&
    c.downloadedTwiceAll === 0 &&
    c.code === 130
  );
}

export async function follow(ctx: BenchContext): Promise<ScenarioResult> {
  const steadySeconds = ctx.quick ? 20 : 60;
  const steadyRate = 10;
  const bursts = ctx.quick ? 3 : 6;
  const threads = ctx.quick ? 3 : 10;
  const perThread = 10;
  const memoryMinutes = ctx.quick ? 3 : 30;
  const earlyMinute = ctx.quick ? 0.5 : 5;
  const memoryRate = 20;
  const rssEveryMs = ctx.quick ? 2000 : 5000;
  const windowMs = ctx.quick ? 15_000 : 30_000;

  // 1. Latency.
  log('follow: latency run');
  const latency = await withFollow('latency', 5000, async (fake, follower, channels, out) => {
    const posted: Posted[] = [];
    await paced(steadySeconds * steadyRate, steadyRate, (i) => post(fake, posted, 'steady', channels[i % channels.length]!, i % 5 === 4 ? 2 : 1));
    const threadIds: string[] = [];
    for (let k = 0; k < threads; k++) {
      const { threadId } = await fake.request<{ threadId: string }>({ type: 'thread', parentId: channels[k % channels.length]! });
      threadIds.push(threadId);
      await paced(perThread, 10, () => post(fake, posted, 'thread', threadId));
    }
    for (let b = 0; b < bursts; b++) {
      const targets = [...channels, ...threadIds.slice(-3)];
      await paced(100, 100, (i) => post(fake, posted, 'burst', targets[i % targets.length]!));
      await sleep(5000);
    }
    return finish(fake, follower, posted, out, 60_000);
  });
  const all = [...latency.latencies.values()].flat();
  const p50 = median(all);
  const p99 = quantile(all, 0.99);
  log(`follow latency: ${all.length} files, median ${ms(p50)}, p99 ${ms(p99)}`);

  // 2. Memory.
  log(`follow: memory run (${memoryMinutes} min at ${memoryRate} messages/s)`);
  const memory = await withFollow('memory', rssEveryMs, async (fake, follower, channels, out) => {
    const posted: Posted[] = [];
    const offset = Date.now(); // the minutes count from the first live post
    await paced(memoryMinutes * 60 * memoryRate, memoryRate, (i) => {
      const into = channels[i % channels.length]!;
      return post(fake, posted, 'memory', into);
    });
    await sleep(rssEveryMs * 2); // the minute mark's last samples
    const checked = await finish(fake, follower, posted, out, 60_000);
    return { checked, samples: follower.rss.map(([t, v]): [number, number] => [t - offset, v]) };
  });
  const samples = memory.samples.filter(([t]) => t >= 0 && t <= memoryMinutes * 60_000 + windowMs);
  const at = (minute: number): number => median(samples.filter(([t]) => t > minute * 60_000 - windowMs && t <= minute * 60_000).map(([, v]) => v));
  const early = at(earlyMinute);
  const late = at(memoryMinutes);
  const ratio = late / early;
  const values = samples.map(([, v]) => v);
  const marks = ctx.quick ? [0.5, 1, 1.5, 2, 2.5, 3] : [1, 2, 5, 10, 15, 20, 25, 30];
  const memLatencies = [...memory.checked.latencies.values()].flat();
  log(`follow memory: RSS ${early.toFixed(1)} MB at minute ${earlyMinute}, ${late.toFixed(1)} MB at minute ${memoryMinutes}`);

  const phaseRow = (phase: string, what: string): Row => {
    const list = latency.latencies.get(phase) ?? [];
    return { figure: `latency, ${what} (${list.length} files): median / p99`, value: `${ms(median(list))} / ${ms(quantile(list, 0.99))}` };
  };
  const rows: Row[] = [
    { figure: `latency, every posted file (${all.length} files): median`, value: ms(p50) },
    { figure: 'latency, every posted file: p99 / max', value: `${ms(p99)} / ${ms(all.length > 0 ? Math.max(...all) : Number.NaN)}` },
    phaseRow('steady', `steady ${steadyRate} messages/s for ${steadySeconds} s over ${CHANNELS} channels`),
    phaseRow('thread', `${threads} new threads, ${perThread} messages each right after THREAD_CREATE`),
    phaseRow('burst', `${bursts} bursts of 100 messages in 1 s over ${CHANNELS} channels and 3 threads`),
    ...checkRows('latency run', latency),
    {
      figure: `RSS of dps (MB), ${values.length} samples every ${rssEveryMs / 1000} s over ${memoryMinutes} min: min / median / max`,
      value: `${Math.min(...values).toFixed(1)} / ${median(values).toFixed(1)} / ${Math.max(...values).toFixed(1)}`,
    },
    {
      figure: `RSS (MB) at minute ${marks.join(', ')} (median of the samples of the ${windowMs / 1000} s before each mark)`,
      value: marks.map((m) => at(m).toFixed(1)).join(', '),
    },
    { figure: `RSS at minute ${memoryMinutes} / minute ${earlyMinute}`, value: round(ratio, 3).toFixed(3) },
    { figure: `memory run latency (${memLatencies.length} files): median / p99`, value: `${ms(median(memLatencies))} / ${ms(quantile(memLatencies, 0.99))}` },
    ...checkRows('memory run', memory.checked),
  ];
  return {
    name: 'follow',
    title: 'Follow (live archiving)',
    command:
      'node bin/dps.js follow --server-id G --all-channels --out O --state S --quiet (defaults, no tuning flag), stopped with SIGINT at the end; ' +
      "latency of a file = arrival in the bench of dps's NDJSON `saved` event for it (written after fsync and rename) minus the fake's Date.now() when the message was posted (same machine clock); " +
      'RSS = VmRSS of the dps process from /proc/<pid>/status',
    setup:
      `the fake in its own process with REST and Gateway, Discord-like limits (as the realistic scenario: history really 5 per 5 s per channel, 50/s global, +80 ms per API response; the Gateway at its defaults), ` +
      `a server of ${CHANNELS} channels x ${HISTORY} messages (10% with images) caught up first (every channel's channel_done). ` +
      `Latency run: ${steadyRate} messages/s for ${steadySeconds} s round robin over the channels (every fifth with 2 images, else 1, 2-40 KB), then ${threads} threads created one after another with ${perThread} messages at 10/s into each, ` +
      `then ${bursts} bursts of 100 messages in 1 s (5 s apart) over the channels and the last 3 threads. ` +
      `Memory run (a fresh fake and archive): ${memoryRate} messages/s with 1 image each for ${memoryMinutes} min round robin over the channels, RSS sampled every ${rssEveryMs / 1000} s; minutes count from the first live post. ` +
      'Each run ends when every posted file is announced (or 60 s after the last post), then SIGINT and the checks: every posted file on disk (matched by size and sha256 over the whole --out), stored once, announced once, one successful CDN download per file in the request log of the fake.',
    rows,
    targets: [
      { target: 'latency post -> durable file: median < 1 s', measured: ms(p50), met: p50 < 1000 },
      { target: 'latency post -> durable file: p99 < 3 s', measured: ms(p99), met: p99 < 3000 },
      {
        target: `RSS at minute ${memoryMinutes} <= 1.1 x RSS at minute ${earlyMinute} (${memoryRate} messages/s)`,
        measured: `${late.toFixed(1)} / ${early.toFixed(1)} MB = ${round(ratio, 3).toFixed(3)}`,
        met: ratio <= 1.1,
      },
      {
        target: 'every posted file on disk once, byte-exact, announced once, downloaded once; exit 130 on SIGINT',
        measured: `latency run ${clean(latency) ? 'clean' : 'NOT clean'}, memory run ${clean(memory.checked) ? 'clean' : 'NOT clean'} (rows below)`,
        met: clean(latency) && clean(memory.checked),
      },
    ],
    measuredAt: new Date().toISOString(),
    quick: ctx.quick,
    runs: 1,
  };
}
