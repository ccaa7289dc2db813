// A saved file's times (mtime and atime) are its message's post time, so a 2021 post shows as 2021 in a file
// manager, `ls -t` or a photo library. The disk thread sets them on the temp file before it gets its final name
// (disk-thread-worker.ts); these are the rules and the calls for files already in place: a hard link shares its
// inode's times with every other name of the bytes, so linking only ever lowers them (the inode keeps the
// earliest post among its names), and a post time that is missing or malformed leaves the file's times alone.

import fs from 'node:fs/promises';
import { DISCORD_EPOCH } from '../util/snowflake.js';

// ISO8601 with a date, a time and an offset, as Discord sends message timestamps.
const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const EARLIEST_MS = Number(DISCORD_EPOCH);

// The post time in milliseconds since 1970, or undefined when `timestamp` is not a usable one: malformed, or
// before Discord existed (a message without a timestamp is given the epoch 0 upstream, which is no post time).
export function postTimeMs(timestamp: string | undefined): number | undefined {
  if (timestamp === undefined || !ISO_TIMESTAMP.test(timestamp)) return undefined;
  const ms = Date.parse(timestamp);
  return Number.isFinite(ms) && ms >= EARLIEST_MS ? ms : undefined;
}

const NS_PER_MS = 1_000_000n;

// `ns` (whole microseconds of it: what libuv keeps) as the seconds utimes takes. libuv truncates the seconds to
// microseconds, and ms / 1000 is often a hair below the exact value (a file would get ...122.999 ms for 123 ms):
// half a microsecond more makes the truncation land on the exact microsecond.
export function timeArg(ns: bigint): number {
  return Number((ns / 1000n) * 2n + 1n) / 2e6;
}

// `ms` since 1970 as the seconds utimes takes (see timeArg).
export function msArg(ms: number): number {
  return timeArg(BigInt(Math.round(ms)) * NS_PER_MS);
}

// Sets the file's atime and mtime to `ms`, or to its mtime when that is earlier and `lowerOnly` (a hard link:
// another name of these bytes was posted earlier); nothing is done when both already are. Reading the file (the
// hash checks before a link) may have moved its atime to now: it is put back too. Times are never worth failing
// a saved file for: an error is ignored (the file keeps the times it has). Symlinks are never followed.
export async function setFileTimes(file: string, ms: number, lowerOnly: boolean): Promise<void> {
  try {
    const stat = await fs.lstat(file, { bigint: true });
    if (!stat.isFile()) return;
    const wanted = BigInt(Math.round(ms)) * NS_PER_MS;
    const target = lowerOnly && stat.mtimeNs < wanted ? stat.mtimeNs : wanted;
    if (stat.mtimeNs === target && stat.atimeNs === target) return;
    const seconds = timeArg(target);
    await fs.lutimes(file, seconds, seconds);
  } catch {
    // the file keeps its times
  }
}
