// A disk thread (a worker_threads Worker, see disk-thread.ts): hashes and writes the batches of bytes the main
// thread hands it, fsyncs and closes each finished temp file, and commits temp files to their final names.
// Its file-system calls are synchronous (a system call each, where an asynchronous call from the main thread
// also costs two cross-thread wake-ups through libuv's pool), except fsync, which goes through the pool in
// groups (fsyncInGroup), and the creation of temp files while creating is slow (openTemp): they then go
// through the pool rather than holding up the other files; a file's bytes are hashed as they arrive and written,
// in order, once its temp file is open; its slot is marked free in shared memory as soon as it is written. One
// reply per request: {req, ...result} or {req, error}; requests and replies travel in arrays (the replies of one
// turn of the event loop in one message). A file's last batch may carry its final name: it is then
// renamed there too, and answered like a commit; and its sidecar's head (--write-metadata): the sidecar is then
// ended with the file's path, sha256 and size, fsynced in the file's group (or, deferred, not at all: the run
// syncs its sidecars together, lib/run-sidecars.ts) and linked right after the file.
// Renames into one folder share one directory fsync: the commits that arrive together are acknowledged together
// once it is done. A file's folder identity (its first
// batch carries it) is re-checked before its temp file is created and before it is renamed (once per folder per
// turn of this thread's event loop), and again before the folder's fsync acknowledges the renames
// (folder-identity.ts): a folder swapped for a symlink meanwhile fails them with OutputUnsafeError. Creates,
// links and renames in a checked folder go through its directory descriptor (pinned-folder.ts), so a swap
// between a check and the call cannot send a file elsewhere.

import { createHash } from 'node:crypto';
import type { Hash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { CREATE_FLAGS, DIR_SYNC_UNSUPPORTED, symlinkRefusal } from './atomic-write.js';
import { NO_LINK, placeSync } from './no-replace.js';
import { closeSidecar } from './sidecar-text.js';
import type { Placement } from './no-replace.js';
import type { DiskReply, DiskRequest, DiskWorkerData, SerializedError } from './disk-thread.js';
import { folderChange, idOf, removeIfOurs, removeIfSame, unsafeFolder } from './folder-identity.js';
import type { FolderIdentity } from './folder-identity.js';
import { holdFolder } from './pinned-folder.js';
import type { Pin } from './pinned-folder.js';

// The slots shared with the main thread: a write request names the slot that holds its batch.
const data = workerData as DiskWorkerData | undefined;
const slots = (data?.slots ?? []).map((slot) => new Uint8Array(slot));
const busy = new Int32Array(data?.busy ?? new SharedArrayBuffer(0));
const EMPTY = new Uint8Array(0);
const pause = data?.pause === undefined ? undefined : new Int32Array(data.pause);

// Tests only (DiskWorkerData.pause): the thread stops at `point` (1: the folder checked and held, before the
// link; 2: after it, before any check) until the test stores 0, so a folder swap lands exactly there.
function pauseAt(point: number): void {
  if (pause === undefined) return;
  Atomics.store(pause, 0, point);
  Atomics.notify(pause, 0);
  Atomics.wait(pause, 0, point);
}

// The main thread may fill `slot` again. Every path through write() calls this before the request is answered:
// the main thread frees slots only from these flags (DiskThread's #reclaim), never from replies.
function freeSlot(slot: number): void {
  if (slot >= 0 && slot < busy.length) Atomics.store(busy, slot, 0);
}

interface OpenFile {
  opened: Promise<number>; // the temp file's creation (through the pool), then its descriptor
  hash: Hash;
  bytes: number;
  folder: FolderIdentity | undefined; // its folder as checked by the main thread (none: not checked)
  pin: Pin | undefined; // that folder held open while the temp file is being written (pinned-folder.ts)
}

const files = new Map<number, OpenFile>();
interface Waiter {
  resolve: () => void;
  reject: (error: SerializedError) => void;
  finalPath: string;
  folder: FolderIdentity | undefined;
  id: string | undefined; // the renamed file's device + inode (with `folder`), to take it back if the folder moved
  pin: Pin | undefined; // `folder` held open until its fsync is done
  sidecar?: Linked | undefined; // the file's sidecar linked beside it (linkSidecarNow): taken back with it
}

// A file linked at `path` (a name in a held folder): ours if it still has inode `id`, or holds these `bytes`.
type Linked = { path: string; id: string; bytes?: undefined } | { path: string; bytes: Uint8Array; id?: undefined };

const renamed = new Map<string, Waiter[]>(); // folder -> renames waiting for its next fsync
const syncing = new Set<string>(); // folders with an fsync under way

// An error as plain data (disk-thread.ts revives it): its class's name, its typed fields, its causes.
function serialize(error: unknown, depth = 0): SerializedError {
  const e = error as {
    name?: unknown;
    message?: unknown;
    code?: unknown;
    retryable?: unknown;
    reason?: unknown;
    errno?: unknown;
    syscall?: unknown;
    path?: unknown;
    cause?: unknown;
  } | null;
  const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
  return {
    name: text(e?.name) ?? 'Error',
    message: text(e?.message) ?? String(error),
    code: text(e?.code),
    retryable: typeof e?.retryable === 'boolean' ? e.retryable : undefined,
    reason: text(e?.reason) as SerializedError['reason'],
    errno: typeof e?.errno === 'number' ? e.errno : undefined,
    syscall: text(e?.syscall),
    path: text(e?.path),
    cause: e?.cause === undefined || depth >= 3 ? undefined : serialize(e.cause, depth + 1),
  };
}

// Replies ready in one turn of the event loop go back in one message (one wake-up of the main thread).
let outbox: DiskReply[] = [];
function reply(message: DiskReply): void {
  outbox.push(message);
  if (outbox.length === 1) setImmediate(flushReplies);
}
function flushReplies(): void {
  const batch = outbox;
  outbox = [];
  parentPort?.postMessage(batch);
}

// Close and remove a temp file after a failure or an abort (once its creation has finished); nothing is left behind.
// A temp file never created is not removed (the name may be another's); one in a checked folder is removed only
// if the path still leads to it (the folder may have been swapped); `byPath` false: a closed one is left alone
// (its folder changed: the path may lead elsewhere).
async function discard(file: number, tempPath: string, byPath = true): Promise<void> {
  const open = files.get(file);
  files.delete(file);
  if (open !== undefined) {
    const fd = await open.opened.catch(() => undefined);
    if (fd === undefined) return;
    let id: string | undefined;
    try {
      if (open.folder !== undefined) id = idOf(fs.fstatSync(fd, { bigint: true }));
      fs.closeSync(fd);
    } catch {
      // already closed
    }
    if (open.folder !== undefined) {
      removeIfOurs(open.pin?.at(tempPath) ?? tempPath, id);
      open.pin?.release();
      return;
    }
  }
  if (byPath) fs.rmSync(tempPath, { force: true });
}

// Writes every byte of `pieces`, in order: one system call unless the kernel writes less than asked.
function writeAllSync(fd: number, pieces: Uint8Array[]): void {
  let left = pieces;
  while (left.length > 0) {
    let written = fs.writevSync(fd, left);
    let i = 0;
    while (i < left.length && written >= left[i]!.byteLength) written -= left[i++]!.byteLength;
    left = left.slice(i);
    if (written > 0) left[0] = left[0]!.subarray(written);
  }
}

// A write request's bytes, as views of its slot (disk-thread.ts: `segments` is start, length, ...).
function piecesOf(request: Extract<DiskRequest, { op: 'write' }>): Uint8Array[] {
  const slot = request.slot < 0 ? EMPTY : slots[request.slot]!;
  const pieces: Uint8Array[] = [];
  for (let i = 0; i + 1 < request.segments.length; i += 2) {
    const start = request.segments[i]!;
    pieces.push(slot.subarray(start, start + request.segments[i + 1]!));
  }
  return pieces;
}

// One batch of a file: hashed at once (batches arrive in order), written once the temp file exists. The writes
// of one file stay in order: each waits for the same creation, and continuations of one promise run in order.
async function write(request: Extract<DiskRequest, { op: 'write' }>): Promise<Omit<DiskReply, 'req'>> {
  let open = files.get(request.file);
  let sidecar: SidecarTemp | undefined;
  try {
    if (open === undefined) {
      // Only a file's first batch creates its temp file: after a failure, a later batch must not start it afresh.
      if (request.first !== true) throw new Error('the temp file was discarded');
      const pin = holdChecked(request.folder, 'create a file');
      open = { opened: openTemp(pin?.at(request.path) ?? request.path), hash: createHash('sha256'), bytes: 0, folder: request.folder, pin };
      files.set(request.file, open);
    }
    // The slot is the main thread's again once this request is answered, so the batch is written before that.
    const pieces = piecesOf(request);
    for (const piece of pieces) {
      open.hash.update(piece);
      open.bytes += piece.byteLength;
    }
    const fd = await open.opened;
    if (files.get(request.file) !== open) throw new Error('the temp file was discarded');
    writeAllSync(fd, pieces);
    freeSlot(request.slot);
    if (!request.last) return {};
    if (request.mtime !== undefined) setTimes(fd, request.mtime); // before the fsync, which makes them durable too
    const result = { sha256: open.hash.digest('hex'), bytes: open.bytes };
    // Its sidecar, if asked for: written now, so that both fsyncs start in one group; a deferred one (no fsync of
    // its own) in a folder held through its descriptor, once the file is linked (linkSidecarNow).
    const later = request.sidecar?.defer === true && request.finalPath !== undefined && open.pin?.pinned === true ? request.sidecar : undefined;
    if (request.sidecar !== undefined && request.finalPath !== undefined && later === undefined)
      sidecar = startSidecar(request.sidecar, request.finalPath, result, open);
    await Promise.all([fsyncInGroup(fd), sidecar?.synced]);
    files.delete(request.file);
    const id = open.folder === undefined ? undefined : idOf(fs.fstatSync(fd, { bigint: true }));
    fs.closeSync(fd);
    // rename holds the folder again (the same descriptor); a sidecar keeps it held until it is linked or removed.
    if (sidecar === undefined) open.pin?.release();
    if (request.finalPath === undefined) return result;
    const finalPath = request.finalPath;
    // A final name held by another file: the temp file stays, and the main thread names another candidate. A
    // deferred sidecar is linked by place right after the file (linkSidecarNow) and taken back with it.
    let linkedNow = false;
    const alongside =
      later === undefined
        ? undefined
        : (pin: Pin | undefined): Linked | undefined => {
            const linked = linkSidecarNow(later, finalPath, result, pin);
            linkedNow = linked !== undefined;
            return linked;
          };
    const placed = place(request.path, finalPath, result.sha256, open.folder, id, alongside);
    if (placed === 'taken') {
      if (sidecar !== undefined) dropSidecar(sidecar, open.folder, open.pin); // it would tell the wrong path
      open.pin?.release();
      return { ...result, taken: true };
    }
    // The sidecar's link in the same turn as the file's: one folder fsync acknowledges both.
    const linked = sidecar === undefined ? undefined : linkSidecar(sidecar, `${request.finalPath}.json`, open.folder, open.pin);
    sidecar = undefined;
    open.pin?.release();
    await placed;
    return linkedNow || (await linked) === true ? { ...result, sidecar: true } : result;
  } catch (error) {
    freeSlot(request.slot);
    if (sidecar !== undefined) dropSidecar(sidecar, open?.folder, open?.pin);
    // By path only a temp file this request knew (not one discarded before it) in an unchecked folder: in a
    // checked one, discard goes by inode and rename has removed what it safely could.
    await discard(request.file, request.path, open !== undefined && open.folder === undefined);
    open?.pin?.release();
    throw error;
  }
}

const SETTLED = Promise.resolve();

// A file's sidecar being written with it (write): its temp file, its identity, its fsync.
interface SidecarTemp {
  path: string;
  id: string | undefined;
  synced: Promise<void>; // its fsync and close, done or failed: never rejects
  ok: boolean; // once `synced` settles: false when it failed (its temp file is then removed)
}

// Creates, writes and starts to fsync the sidecar's temp file, in the file's held folder (while its pin is held).
// A failure costs the sidecar only: it is removed and the metadata stage writes it its own way, which meets the
// same trouble and reports it as it does for any sidecar.
function startSidecar(
  request: { path: string; head: string; defer?: true },
  finalPath: string,
  file: { sha256: string; bytes: number },
  open: OpenFile,
): SidecarTemp | undefined {
  let fd: number | undefined;
  const at = open.pin?.at(request.path) ?? request.path;
  try {
    // Without descriptor paths (no /proc) the create goes by path: the folder is checked again first, as for a
    // file's first batch (through the descriptor, it reaches the folder the file's create reached).
    if (open.pin?.pinned === false && changeOf(open.folder) !== undefined) return undefined;
    fd = fs.openSync(at, CREATE_FLAGS, 0o666);
    writeAllSync(fd, [Buffer.from(closeSidecar(request.head, finalPath, file.sha256, file.bytes))]);
    const id = open.folder === undefined ? undefined : idOf(fs.fstatSync(fd, { bigint: true }));
    const opened = fd;
    if (request.defer === true) {
      // Deferred: made durable with the run's other sidecars by one syncfs (lib/run-sidecars.ts); closed now.
      fd = undefined;
      try {
        fs.closeSync(opened);
      } catch {
        fs.rmSync(at, { force: true });
        return undefined;
      }
      return { path: request.path, id, ok: true, synced: SETTLED };
    }
    const sidecar: SidecarTemp = { path: request.path, id, ok: false, synced: SETTLED };
    sidecar.synced = fsyncInGroup(opened)
      .then(
        () => {
          sidecar.ok = true;
        },
        () => undefined,
      )
      .finally(() => {
        try {
          fs.closeSync(opened);
        } catch {
          sidecar.ok = false;
        }
        if (!sidecar.ok) dropSidecar(sidecar, open.folder, open.pin);
      });
    return sidecar;
  } catch {
    if (fd !== undefined) {
      fs.closeSync(fd);
      fs.rmSync(at, { force: true });
    }
    return undefined;
  }
}

// A deferred sidecar (made durable with the run's others: lib/run-sidecars.ts) written right after its file's
// link, in the same turn and through the same held folder (place's `alongside`): created under its temp name,
// written, closed, linked to `<file>.json` (never over another file) and its temp name removed, with no fsync.
// What it linked is returned, so that it is taken back with the file if the folder turns out to have moved
// (movedAway): by its bytes when the link made the name (no fstat per sidecar: bench/limits.md, "Waiting for the
// disk to settle"), by its inode when no-replace.ts had to decide (the name was held, or no hard links here).
// Undefined when it could not be (its temp file removed if it was created): the metadata stage then writes it
// its own way.
function linkSidecarNow(
  request: { path: string; head: string },
  finalPath: string,
  file: { sha256: string; bytes: number },
  pin: Pin | undefined,
): Linked | undefined {
  if (pin?.pinned !== true) return undefined;
  const temp = pin.at(request.path);
  const bytes = Buffer.from(closeSidecar(request.head, finalPath, file.sha256, file.bytes));
  let fd: number | undefined;
  let created = false;
  let written = false;
  try {
    fd = fs.openSync(temp, CREATE_FLAGS, 0o666);
    created = true;
    writeAllSync(fd, [bytes]);
    written = true;
    const opened = fd;
    fd = undefined;
    fs.closeSync(opened); // before the link: a sidecar whose close failed is never given its name
    const target = `${finalPath}.json`;
    const at = pin.at(target);
    pauseAt(1);
    if (linkFresh(temp, at)) {
      fs.unlinkSync(temp);
      pauseAt(2);
      return { path: target, bytes };
    }
    const id = idOf(fs.lstatSync(temp, { bigint: true }));
    if (placeSync(temp, at, undefined, () => symlinkRefusal(target)) === 'placed') {
      pauseAt(2);
      return { path: target, id };
    }
  } catch {
    // not linked: removed below
  }
  try {
    if (fd !== undefined) fs.closeSync(fd);
    if (created) {
      if (!written) fs.rmSync(temp, { force: true });
      else removeIfSame(temp, bytes);
    }
  } catch {
    // left under its temp name: removeStaleTemps sweeps it at the next run's start
  }
  return undefined;
}

// link(temp, final): true when it made the name; false when the name is held or this file system has no hard
// links (no-replace.ts then decides); any other failure throws.
function linkFresh(temp: string, final: string): boolean {
  try {
    fs.linkSync(temp, final);
    return true;
  } catch (error) {
    if (LINK_DECIDES.has((error as { code?: unknown }).code)) return false;
    throw error;
  }
}
const LINK_DECIDES = new Set<unknown>(['EEXIST', ...NO_LINK]);

// The sidecar's temp file (synced) at its final name, never over another file, linked at once (in the turn of
// its file's link): resolves true once the folder's fsync covers it; false (its temp removed) when the name is
// taken or anything failed. `pin`: the file's folder, still held.
function linkSidecar(sidecar: SidecarTemp, finalPath: string, folder: FolderIdentity | undefined, pin: Pin | undefined): Promise<boolean> {
  if (!sidecar.ok) return Promise.resolve(false);
  try {
    const placed = place(sidecar.path, finalPath, undefined, folder, sidecar.id);
    if (placed !== 'taken')
      return placed.then(
        () => true,
        () => false, // its folder changed: the file's own link fails the request
      );
  } catch {
    // place removed the temp file where it could still reach it; the held folder reaches it anyway
  }
  dropSidecar(sidecar, folder, pin);
  return Promise.resolve(false);
}

// Removes a sidecar's temp file; never throws. Through the file's held folder when there is one (the directory
// the temp was created in, whatever its path leads to now), only if it is still ours; else by path once the
// folder is checked again.
function dropSidecar(sidecar: SidecarTemp, folder: FolderIdentity | undefined, held: Pin | undefined): void {
  try {
    if (folder === undefined || sidecar.id === undefined) fs.rmSync(sidecar.path, { force: true });
    else if (held?.pinned === true) removeIfOurs(held.at(sidecar.path), sidecar.id);
    else {
      const pin = holdChecked(folder, 'remove a file');
      try {
        removeIfOurs(pin?.at(sidecar.path) ?? sidecar.path, sidecar.id);
      } finally {
        pin?.release();
      }
    }
  } catch {
    // left in its folder under a temp name: removeStaleTemps sweeps it at the next run's start
  }
}

// The file's atime and mtime (its post time) on its descriptor: one system call, before the file has a final
// name, so a file under its final name always has its final times. A file system that refuses them (a time out
// of its range) leaves the time of writing: never worth failing a download for.
function setTimes(fd: number, seconds: number): void {
  try {
    fs.futimesSync(fd, seconds, seconds);
  } catch {
    // the file keeps the time it was written
  }
}

// Temp files are created here, synchronously (a few microseconds, where a call through libuv's pool costs two
// cross-thread wake-ups; bench/limits.md), unless creating has become slow: when most of the last OPEN_WINDOW
// creates here took longer than SLOW_OPEN_MS, as on ext4 right after thousands of files were deleted, the next
// POOL_OPENS go through the pool, so a slow create holds up only its own file; then creates are timed here
// again. A create that waits for a journal commit now and then does not count as slow creating.
const SLOW_OPEN_MS = data?.slowOpenMs ?? 0.25;
const OPEN_WINDOW = 32;
const POOL_OPENS = 200;
let poolOpensLeft = 0;
let timedOpens = 0;
let slowOpens = 0;

function openTemp(tempPath: string): Promise<number> {
  if (poolOpensLeft > 0) {
    poolOpensLeft--;
    return new Promise((resolve, reject) => fs.open(tempPath, CREATE_FLAGS, 0o666, (error, fd) => (error ? reject(error) : resolve(fd))));
  }
  const started = performance.now();
  try {
    return Promise.resolve(fs.openSync(tempPath, CREATE_FLAGS, 0o666));
  } catch (error) {
    return Promise.reject(error);
  } finally {
    timeCreate(performance.now() - started);
  }
}

// Counts one create made here; at the end of each window of OPEN_WINDOW, sends the next POOL_OPENS through the
// pool when most of the window's were slow.
function timeCreate(ms: number): void {
  if (ms > SLOW_OPEN_MS) slowOpens++;
  if (++timedOpens < OPEN_WINDOW) return;
  if (slowOpens * 2 > OPEN_WINDOW) poolOpensLeft = POOL_OPENS;
  timedOpens = 0;
  slowOpens = 0;
}

// fsync through libuv's pool: the only call here that waits for the disk, so it must not hold the thread.
function fsync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fsync(fd, (error) => (error ? reject(error) : resolve())));
}

// Files' fsyncs start in groups: up to FSYNC_GROUP at once, or whatever is waiting FSYNC_WAIT_MS after the first.
// On ext4 each fsync of a new file commits the journal, and fsyncs that run together share one commit: fsyncs
// started as files came cost more CPU and wall time than groups (bench/limits.md, Pages). libuv's pool runs
// 4 of a group at a time (UV_THREADPOOL_SIZE=16 measured no better).
const FSYNC_GROUP = 16;
const FSYNC_WAIT_MS = 5;
let fsyncQueue: Array<{ fd: number; resolve: () => void; reject: (error: unknown) => void }> = [];
let fsyncTimer: NodeJS.Timeout | undefined;

function fsyncInGroup(fd: number): Promise<void> {
  return new Promise((resolve, reject) => {
    fsyncQueue.push({ fd, resolve, reject });
    if (fsyncQueue.length >= FSYNC_GROUP) startFsyncs();
    else fsyncTimer ??= setTimeout(startFsyncs, FSYNC_WAIT_MS);
  });
}

function startFsyncs(): void {
  clearTimeout(fsyncTimer);
  fsyncTimer = undefined;
  const group = fsyncQueue;
  fsyncQueue = [];
  for (const waiting of group) fsync(waiting.fd).then(waiting.resolve, waiting.reject);
}

// The folders checked in this turn of the event loop (folder -> the identities found): the creates and renames
// of one turn into one folder share one check (one lstat per component), made before the first of them.
const checkedThisTurn = new Map<string, string[]>();

// What changed about `folder` (folder-identity.ts), checked at most once per turn while it has not changed.
function changeOf(folder: FolderIdentity | undefined): string | undefined {
  if (folder === undefined) return undefined;
  const checked = checkedThisTurn.get(folder.dir);
  if (checked !== undefined && checked.length === folder.ids.length && checked.every((id, i) => id === folder.ids[i])) return undefined;
  const change = folderChange(folder);
  if (change !== undefined) return change;
  if (checkedThisTurn.size === 0) setImmediate(() => checkedThisTurn.clear());
  checkedThisTurn.set(folder.dir, folder.ids);
  return undefined;
}

// `folder` checked (changeOf) and held open for the calls that follow; OutputUnsafeError if it changed.
function holdChecked(folder: FolderIdentity | undefined, what: string): Pin | undefined {
  if (folder === undefined) return undefined;
  const change = changeOf(folder);
  if (change !== undefined) throw unsafeFolder(change, what);
  return holdFolder(folder);
}

// Give the temp file its final name without replacing anything there (no-replace.ts: never over a symlink, a
// file with the same bytes is adopted, any other leaves the name 'taken' and the temp file in place), nor into a
// folder that changed since it was checked; the temp file is removed if it fails. In a checked folder both
// names go through its descriptor (pinned-folder.ts): the link lands in the recorded directory whatever its
// path leads to meanwhile. `id`: the temp file's device + inode (looked up through the descriptor if not given).
// Resolves after the folder's next fsync (flushFolder), which first checks the folder again.
function rename(tempPath: string, finalPath: string, sha256?: string, checked?: FolderIdentity, id?: string): Promise<Placement> {
  try {
    const placed = place(tempPath, finalPath, sha256, checked, id);
    return placed === 'taken' ? Promise.resolve('taken') : placed.then(() => 'placed' as const);
  } catch (error) {
    return Promise.reject(error);
  }
}

// rename's work, its outcome known at once: 'taken', or the link made and a promise of the folder's fsync
// (write links a file's sidecar right after the file, so one fsync covers both). Throws (the temp file removed).
// `alongside`: called once the file is linked, with the held folder: what it links (a deferred sidecar) rides on
// the file's fsync and is taken back with the file if the folder moved.
function place(
  tempPath: string,
  finalPath: string,
  sha256?: string,
  checked?: FolderIdentity,
  id?: string,
  alongside?: (pin: Pin | undefined) => Linked | undefined,
): 'taken' | Promise<void> {
  let pin: Pin | undefined;
  let sidecar: Linked | undefined;
  try {
    pin = holdChecked(checked, 'rename a file');
    const temp = pin?.at(tempPath) ?? tempPath;
    const final = pin?.at(finalPath) ?? finalPath;
    if (checked !== undefined) id ??= idOf(fs.lstatSync(temp, { bigint: true }));
    // No descriptor paths here (no /proc): the final path is checked for our file afterwards (checkPlaced).
    const before = pin?.pinned === false ? fs.lstatSync(finalPath, { throwIfNoEntry: false }) : undefined;
    pauseAt(1);
    if (placeSync(temp, final, sha256, () => symlinkRefusal(finalPath)) === 'taken') {
      pin?.release();
      return 'taken';
    }
    pauseAt(2);
    if (pin?.pinned === false && before === undefined) checkPlaced(finalPath, checked!, id);
    sidecar = alongside?.(pin);
  } catch (error) {
    // A temp file reachable only through a swapped path is removed there only if it is ours.
    if (checked === undefined) fs.rmSync(tempPath, { force: true });
    else removeIfOurs(pin?.at(tempPath) ?? tempPath, id);
    pin?.release();
    throw error;
  }
  const folder = path.dirname(finalPath);
  return new Promise<void>((resolve, reject) => {
    const waiter = { resolve, reject, finalPath, folder: checked, id, pin, sidecar };
    const waiting = renamed.get(folder);
    if (waiting === undefined) renamed.set(folder, [waiter]);
    else waiting.push(waiter);
    if (!syncing.has(folder)) {
      syncing.add(folder);
      setImmediate(() => flushFolder(folder));
    }
  });
}

// Where renames cannot go through a descriptor: the final path must hold our file (same device and inode) and
// the folder must still be the recorded one after that lstat; else the file is taken back where the path leads,
// if ours. A swap and its undoing both between the link and these lstats go unnoticed (ARCHITECTURE.md).
function checkPlaced(finalPath: string, folder: FolderIdentity, id: string | undefined): void {
  const stat = fs.lstatSync(finalPath, { bigint: true, throwIfNoEntry: false });
  const change = stat === undefined || idOf(stat) !== id ? `${finalPath} does not hold the file renamed there` : folderChange(folder);
  if (change === undefined) return;
  removeIfOurs(finalPath, id);
  throw unsafeFolder(change, 'keep a file');
}

// Folder fsyncs start at most this often per folder: each is a journal commit, which on ext4 stalls every file
// creation meanwhile, and the renames of 20 ms share one (a file's slot is free long before; only its record waits).
const FOLDER_SYNC_INTERVAL_MS = 20;

// One fsync of a folder for every rename made into it before the fsync started; renames made while it runs
// wait for the next one (group commit: one folder fsync at a time, each covering everything renamed meanwhile,
// so a slow journal means larger groups, not more commits).
function flushFolder(folder: string): void {
  const waiters = renamed.get(folder);
  renamed.delete(folder);
  if (waiters === undefined) {
    syncing.delete(folder);
    return;
  }
  const started = performance.now();
  const moved = movedAway(waiters);
  void syncFolder(folder, waiters.find((waiter) => waiter.pin !== undefined)?.pin).then((error) => {
    for (const waiter of waiters) {
      waiter.pin?.release();
      const unsafe = moved.get(waiter);
      if (unsafe !== undefined) waiter.reject(unsafe);
      else if (error === undefined) waiter.resolve();
      else waiter.reject(error);
    }
    setTimeout(() => flushFolder(folder), Math.max(0, FOLDER_SYNC_INTERVAL_MS - (performance.now() - started)));
  });
}

// The renames whose folder changed since it was checked (a fresh check, after the renames: one per folder
// identity), each with its error; their files are taken back (through the folder's descriptor, else from the
// swapped path) when still ours there.
function movedAway(waiters: Waiter[]): Map<Waiter, SerializedError> {
  const moved = new Map<Waiter, SerializedError>();
  const changes = new Map<string, string | undefined>(); // ids -> change
  for (const waiter of waiters) {
    if (waiter.folder === undefined) continue;
    const key = waiter.folder.ids.join('|');
    if (!changes.has(key)) changes.set(key, folderChange(waiter.folder));
    const change = changes.get(key);
    if (change === undefined) continue;
    removeIfOurs(waiter.pin?.at(waiter.finalPath) ?? waiter.finalPath, waiter.id);
    const sidecar = waiter.sidecar;
    if (sidecar !== undefined) {
      const at = waiter.pin?.at(sidecar.path) ?? sidecar.path;
      if (sidecar.id !== undefined) removeIfOurs(at, sidecar.id);
      else removeIfSame(at, sidecar.bytes);
    }
    moved.set(waiter, serialize(unsafeFolder(change, 'keep a file')));
  }
  return moved;
}

// fsync of the folder: through its held descriptor when there is one (the recorded directory), else by path.
async function syncFolder(folder: string, pin: Pin | undefined): Promise<SerializedError | undefined> {
  let fd: number | undefined;
  try {
    if (pin !== undefined) await fsync(pin.fd);
    else {
      fd = fs.openSync(folder, 'r');
      await fsync(fd);
    }
    return undefined;
  } catch (caught) {
    return DIR_SYNC_UNSUPPORTED.has(String((caught as { code?: unknown }).code)) ? undefined : serialize(caught);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

parentPort?.on('message', (requests: DiskRequest[]) => {
  for (const request of requests) {
    if (request.op === 'slot') slots[request.slot] = new Uint8Array(request.buffer);
    else void handle(request);
  }
});

async function handle(request: DiskRequest): Promise<void> {
  try {
    if (request.op === 'commit') {
      return reply({
        req: request.req,
        ...((await rename(request.tempPath, request.finalPath, request.sha256, request.folder)) === 'taken' ? { taken: true } : {}),
      });
    }
    if (request.op === 'discard') await discard(request.file, request.path);
    if (request.op !== 'write') return reply({ req: request.req });
    reply({ req: request.req, ...(await write(request)) });
  } catch (error) {
    reply({ req: request.req, error: serialize(error) });
  }
}
