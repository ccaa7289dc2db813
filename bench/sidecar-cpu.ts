// What the main thread spends per sidecar (--write-metadata, issue 23) in the pieces rebuilt to allocate less,
// each against its implementation before (copied here): pathKey (lib/store/store.ts; the write step keys the
// sidecar's name to look up its claim, besides the file's own claims) and sidecarHead
// (lib/stages/metadata-fields.ts). Then two candidates measured and not taken, the current code against the
// candidate: the sidecar's temp name (lib/fs/atomic-write.ts tempName, a path.join) against one cut from the
// file's own temp name, and DiskThread #write's request (conditional spreads, copied here) against assignments.
// CPU time of this process (process.cpuUsage: user + system, the collector's threads included) for CALLS calls,
// the two interleaved, ROUNDS rounds, the order swapped every round.
// Run: node dist/bench/sidecar-cpu.js (after npm run build and npx tsc -p tsconfig.bench.json)

import path from 'node:path';
import { sidecarHead } from '../lib/stages/metadata-fields.js';
import { oldPathKey, oldSidecarHead } from './sidecar-before.js';
import { pathKey } from '../lib/store/store.js';
import { TEMP_SUFFIX, tempName } from '../lib/fs/atomic-write.js';
import type { ChannelContext, MediaItem } from '../lib/types.js';

const CALLS = 100_000;
const ROUNDS = 7;

// 1,000 files as the downloads scenario has them: one channel, ASCII names, the message's author and text.
const context: ChannelContext = { guild_id: '1100000000000000000', guild_name: 'Bench Server', channel_id: '1100000000000000001', channel_name: 'general' };
const items: MediaItem[] = Array.from({ length: 1_000 }, (_, i) => ({
  kind: 'item',
  context,
  message_id: String(1_150_000_000_000_000_000n + BigInt(i)),
  timestamp: '2026-12-07T01:02:03.456Z',
  author_id: '1000000000000000042',
  author_name: 'poster',
  message: { edited_timestamp: null, author_display_name: 'Poster', author_bot: false, content: `photo number ${i}` },
  attachment_id: String(1_160_000_000_000_000_000n + BigInt(i)),
  filename: `img-${i}.jpg`,
  size: 10_000 + i * 397,
  content_type: 'image/jpeg',
  url: `https://cdn.discordapp.com/attachments/1/${i}/img-${i}.jpg`,
  source: 'attachment',
  width: 1920,
  height: 1080,
  index: 0,
  last_of_message: true,
  unique_name: `img-${i}.jpg`,
}));
const asciiPaths = items.map((item) => `/tmp/dps-bench/downloads-3/out/Bench Server/general/${item.attachment_id}_${item.filename}.json`);
const unicodePaths = asciiPaths.map((p) => p.replace('Bench Server', 'Bénch Sérver'));

// CPU milliseconds for CALLS calls of `fn` over `inputs` (the lengths summed so no call is optimised away).
function cpuMs<T>(fn: (input: T) => string, inputs: readonly T[]): number {
  let sink = 0;
  const start = process.cpuUsage();
  for (let i = 0; i < CALLS; i++) sink += fn(inputs[i % inputs.length]!).length;
  const used = process.cpuUsage(start);
  if (sink === 0) throw new Error('nothing built');
  return (used.user + used.system) / 1000;
}

// The candidates: a temp name beside another (the same folder and prefix, the next counter: what tempName(dir)
// returns, without path.join), and the write request's two ways of leaving fields out.
let counter = 0;
function tempBeside(temp: string): string {
  counter = (counter + 1) % 0x1_0000_0000;
  return `${temp.slice(0, -(8 + TEMP_SUFFIX.length))}${counter.toString(16).padStart(8, '0')}${TEMP_SUFFIX}`;
}
const folders = asciiPaths.map((p) => path.dirname(p));
const temps = folders.map((dir) => tempName(dir));
const heads = items.map((item) => sidecarHead(item));
interface Batch {
  last: boolean;
  mtime: number | undefined;
  head: string | undefined;
  sent: boolean;
  folder: { dev: number; ino: number } | undefined;
  dir: string;
}
const batches: Batch[] = heads.map((head, i) => ({ last: true, mtime: 1.5e9 + i, head, sent: i % 4 !== 0, folder: undefined, dir: folders[i]! }));
function requestSpread(b: Batch): Record<string, unknown> {
  return {
    op: 'write',
    file: 1,
    path: '/t',
    slot: 3,
    segments: [0, 100],
    last: b.last,
    ...(b.last ? { finalPath: '/f' } : {}),
    ...(b.last && b.mtime !== undefined ? { mtime: b.mtime } : {}),
    ...(b.last && b.head !== undefined ? { sidecar: { path: b.dir, head: b.head } } : {}),
    ...(b.sent ? {} : { first: true }),
    ...(b.folder !== undefined ? { folder: b.folder } : {}),
  };
}
function requestAssign(b: Batch): Record<string, unknown> {
  const request: Record<string, unknown> = { op: 'write', file: 1, path: '/t', slot: 3, segments: [0, 100], last: b.last };
  if (b.last) request.finalPath = '/f';
  if (b.last && b.mtime !== undefined) request.mtime = b.mtime;
  if (b.last && b.head !== undefined) request.sidecar = { path: b.dir, head: b.head };
  if (!b.sent) request.first = true;
  if (b.folder !== undefined) request.folder = b.folder;
  return request;
}
const keys = (fn: (b: Batch) => Record<string, unknown>) => (b: Batch) => Object.keys(fn(b)).join();

// Each case: `a` the implementation before (or the current one, for a candidate), `b` the new one (or the candidate).
const cases = [
  { name: 'pathKey, ASCII path', a: () => cpuMs(oldPathKey, asciiPaths), b: () => cpuMs(pathKey, asciiPaths) },
  { name: 'pathKey, non-ASCII path', a: () => cpuMs(oldPathKey, unicodePaths), b: () => cpuMs(pathKey, unicodePaths) },
  { name: 'sidecarHead', a: () => cpuMs(oldSidecarHead, items), b: () => cpuMs(sidecarHead, items) },
  { name: 'candidate: sidecar temp name, tempName vs cut from the temp beside it', a: () => cpuMs(tempName, folders), b: () => cpuMs(tempBeside, temps) },
  { name: 'candidate: write request, spreads vs assignments', a: () => cpuMs(keys(requestSpread), batches), b: () => cpuMs(keys(requestAssign), batches) },
];

for (const item of items) if (sidecarHead(item) !== oldSidecarHead(item)) throw new Error('sidecarHead differs from before');
for (const p of [...asciiPaths, ...unicodePaths]) if (pathKey(p) !== oldPathKey(p)) throw new Error('pathKey differs from before');
for (const temp of temps) if (path.dirname(tempBeside(temp)) !== path.dirname(temp)) throw new Error('tempBeside left the folder');

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
console.log(`${CALLS} calls per measurement, ${ROUNDS} rounds, a and b interleaved (CPU ms; ratio b / a)`);
for (const c of cases) {
  const as: number[] = [];
  const bs: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    if (round % 2 === 0) {
      as.push(c.a());
      bs.push(c.b());
    } else {
      bs.push(c.b());
      as.push(c.a());
    }
  }
  const ratios = as.map((a, i) => bs[i]! / a);
  const fmt = (values: number[]): string => values.map((v) => v.toFixed(1)).join(', ');
  console.log(`${c.name}: a ${fmt(as)} (median ${median(as).toFixed(1)}); b ${fmt(bs)} (median ${median(bs).toFixed(1)})`);
  const saved = ((median(as) - median(bs)) * 1000) / CALLS;
  console.log(`  b / a per round ${ratios.map((r) => r.toFixed(3)).join(', ')}; median ${median(ratios).toFixed(3)}; b saves ${saved.toFixed(2)} us a call`);
}
