// The one durable write: every file dps downloads goes through a DiskThread. On the main thread each file cost a
// sha256 over its bytes and about ten round trips through libuv's thread pool (open, writes, fsync, close,
// lstat, rename, ...), each with a cross-thread wake-up that a 2-core VM charges to the event loop, the same loop
// that runs the downloads and pages. A DiskThread copies each body, in batches of up to 512 KiB, into slots of
// memory it shares with one worker thread (allocated once: no buffer is created, transferred or collected per
// batch); the worker hashes, writes, fsyncs and renames (bench/limits.md has the measurements). At most two
// batches of a file are in flight and a batch waits for a free slot, so a slow disk slows the downloads instead
// of filling memory; the worker marks a slot free (in shared memory) as soon as it has written the batch, before
// its reply. writeFile sends a file's last batch with its final name, so the worker also renames it and one
// reply comes back: one wake-up of each thread per small file instead of two.
// The contract: a crash, a full disk or an abort never leaves a half-written file under a final name (bytes go
// to a temp file, fsynced, then linked to the final name and the folder fsynced), and a final name already held
// by another file is never replaced (no-replace.ts).

import { Worker } from 'node:worker_threads';
import fs from 'node:fs/promises';
import { DiskFullError, DownloadError, OutputError, OutputUnsafeError } from '../errors.js';
import type { FailReason } from '../errors.js';
import { ensureDirInside, tempName, translate } from './atomic-write.js';
import type { FolderCache } from './atomic-write.js';
import { msArg } from './file-times.js';
import type { Placement } from './no-replace.js';
import type { FolderIdentity } from './folder-identity.js';

// Bytes gathered before one write(v) call, and the size of a shared slot: a few syscalls for a large file
// instead of one per network chunk.
export const WRITE_BATCH_BYTES = 512 * 1024;

export interface WriteFileOptions {
  expectedSize?: number | undefined;
  signal?: AbortSignal | undefined;
  // The archive root: `dir` must resolve inside it, and no existing component between them may be a symlink.
  root?: string | undefined;
  // Folders already created and checked during this run (one Map per run): each is checked once, not per file.
  folders?: FolderCache | undefined;
  // Called once every byte has arrived, before the fsync: the download's slot can go to the next transfer
  // while this file is made durable.
  onReceived?: (() => void) | undefined;
  // The file's atime and mtime, in ms since 1970 (its message's post time, file-times.ts), set on the temp file
  // before it gets its final name (in the request of its last batch); undefined: the time it was written.
  mtimeMs?: number | undefined;
  // --write-metadata: the file's sidecar (`<finalPath>.json`) written in the same request, its text this head
  // ended by the worker with the path, sha256 and size (sidecar-text.ts): created, fsynced and linked with the
  // file, under one folder fsync. Never over an existing name; any trouble leaves it unwritten (`sidecar` unset).
  sidecarHead?: string | undefined;
  // The sidecar goes without an fsync of its own when its folder is on this device (`dev` as FolderIdentity
  // records it): the run makes its sidecars durable together with one syncfs (lib/run-sidecars.ts).
  sidecarDevice?: string | undefined;
}

// What writeFile resolves with: the file's sha256 and size; `taken` when another file holds the final name:
// the temp file, kept, to commit under the next candidate name (commitTemp) or discard (discardTemp).
export interface WrittenFile {
  sha256: string;
  bytes: number;
  taken?: string | undefined;
  sidecar?: true | undefined; // the sidecar asked for (sidecarHead) is durable at `<finalPath>.json`
}

// The messages between the threads (see disk-thread-worker.ts).
export type DiskRequest =
  // `segments`: where the batch's bytes are in the slot, as [start, length, start, length, ...] in order (see #write).
  // `first`: a file's first batch, the only one that may create its temp file (a later one finds it, or fails).
  // `folder`: on the first batch, its folder's identity, re-checked before the temp file is created and
  // before and after the rename (folder-identity.ts).
  | {
      req: number;
      op: 'write';
      file: number;
      path: string;
      slot: number;
      segments: number[];
      last: boolean;
      finalPath?: string;
      first?: boolean;
      folder?: FolderIdentity;
      // On the last batch: the file's atime and mtime, as the seconds utimes takes (file-times.ts msArg).
      mtime?: number;
      // On the last batch (with finalPath): the sidecar to write with the file (WriteFileOptions.sidecarHead),
      // and its temp name; `defer`: linked without its own fsync (WriteFileOptions.sidecarDevice).
      sidecar?: { path: string; head: string; defer?: true };
    }
  | { req: number; op: 'discard'; file: number; path: string }
  // One more slot, shared before the first batch put in it (no reply).
  | { req: number; op: 'slot'; slot: number; buffer: SharedArrayBuffer }
  | { req: number; op: 'commit'; tempPath: string; finalPath: string; sha256?: string; folder?: FolderIdentity };

// An error as it crosses between the threads: its class (by name), its typed fields and its cause.
export interface SerializedError {
  name: string;
  message: string;
  code?: string | undefined;
  retryable?: boolean | undefined;
  reason?: FailReason | undefined;
  errno?: number | undefined;
  syscall?: string | undefined;
  path?: string | undefined;
  cause?: SerializedError | undefined;
}

export interface DiskReply {
  req: number;
  error?: SerializedError;
  sha256?: string;
  bytes?: number;
  taken?: boolean; // the final name is held by another file: nothing was replaced, the temp file is kept
  sidecar?: boolean; // the request's sidecar is durable at its name
}

// What the worker is started with: the shared slots, each WRITE_BATCH_BYTES long, one batch each, and one
// Int32 per slot that is 1 while the worker still needs the slot's batch (it stores 0 once written).
export interface DiskWorkerData {
  slots: SharedArrayBuffer[];
  busy: SharedArrayBuffer;
  slowOpenMs?: number; // a create slower than this sends the next ones through libuv's pool (disk-thread-worker.ts)
  pause?: SharedArrayBuffer; // tests only: the worker stops around each link until released (disk-thread-worker.ts pauseAt)
}

// Slots by default: two batches for each of 8 concurrent downloads, plus two (8 MiB of address space; only the
// pages a batch touches become resident, so small files cost little).
const DEFAULT_SLOTS = 18;

// Requests that complete a file wait this long, or until this many are waiting, to share one message to the
// worker (bench/limits.md); a file's fsync group and folder fsync wait longer than that anyway.
const FLUSH_MS = 3;
const FLUSH_COUNT = 8;

// Chunks at least this long are copied to a slot at an offset aligned like them (see #write).
const ALIGN_FROM_BYTES = 256;

type Request = DiskRequest extends infer R ? (R extends unknown ? Omit<R, 'req'> : never) : never;

// The worker's errors, as the classes this thread's callers test for, with their fields and causes.
function revive(error: SerializedError): Error {
  const fields = { cause: error.cause === undefined ? undefined : revive(error.cause), reason: error.reason };
  if (error.name === 'DiskFullError') return new DiskFullError(error.message, fields);
  if (error.name === 'OutputUnsafeError') return new OutputUnsafeError(error.message, fields);
  if (error.name === 'OutputError') return new OutputError(error.message, fields);
  if (error.name === 'DownloadError') return new DownloadError(error.message, { ...fields, retryable: error.retryable ?? false });
  const revived = new Error(error.message, error.cause === undefined ? undefined : { cause: fields.cause });
  const { code, errno, syscall, path } = error; // a system call's error keeps what the callers look at (code)
  return Object.assign(
    revived,
    { name: error.name },
    code === undefined ? {} : { code },
    errno === undefined ? {} : { errno },
    syscall === undefined ? {} : { syscall },
    path === undefined ? {} : { path },
  );
}

// Is every component of the folder on device `dev` (the archive root's: one syncfs reaches them all)?
function onDevice(folder: FolderIdentity, dev: string): boolean {
  return folder.ids.every((id) => id.slice(0, id.indexOf(':')) === dev);
}

// One worker thread, started with the first file (a run that downloads nothing never starts it). One is enough
// on two cores: its fsyncs run in libuv's pool, and a second thread measured no faster for more RSS (bench/limits.md).
export class DiskThread {
  #worker: Worker | undefined;
  #failure: Error | undefined;
  #nextRequest = 1;
  #nextFile = 1;
  readonly #pending = new Map<number, { resolve: (reply: DiskReply) => void; reject: (error: Error) => void }>();
  readonly #slotCount: number;
  #slots: Buffer[] = []; // views of the shared slots, by index
  #busy: Int32Array<ArrayBufferLike> = new Int32Array(0); // per slot: 1 while the worker needs its batch
  readonly #sent = new Set<number>(); // slots handed to the worker and not yet free again
  readonly #free: number[] = []; // indexes of the slots no batch holds
  readonly #waiting: Array<(slot: number) => void> = []; // batches waiting for a slot, first come first served
  #outbox: DiskRequest[] = []; // requests not yet posted (see #flush)
  #flushTimer: NodeJS.Timeout | undefined; // posts the outbox FLUSH_MS after its first request
  readonly #slowOpenMs: number | undefined;
  readonly #pause: SharedArrayBuffer | undefined;

  // `slots`: batches in flight at once across all files (at least 2; two per concurrent download is plenty).
  // `slowOpenMs`: see disk-thread-worker.ts (tests set 0 to send most creates through the pool).
  // `pause`: tests only, see DiskWorkerData.
  constructor(options: { slots?: number; slowOpenMs?: number; pause?: SharedArrayBuffer } = {}) {
    this.#slotCount = Math.max(2, options.slots ?? DEFAULT_SLOTS);
    this.#slowOpenMs = options.slowOpenMs;
    this.#pause = options.pause;
  }

  #start(): Worker {
    if (this.#failure) throw this.#failure;
    if (this.#worker) return this.#worker;
    // Compiled, this file is dist/lib/fs/disk-thread.js beside the worker's .js; under the test runner both are .ts.
    const extension = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
    // The worker keeps almost nothing on its heap (a few open files and hashes): a 1 MB young generation keeps
    // its RSS down. The old generation's limit leaves room for a loader compiling TypeScript (the test runner);
    // a worker that exceeded it would fail every write loudly (the 'error' handler below), never silently.
    const resourceLimits = { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 64 };
    // The first slots now, the rest (up to `slots`) only when that many batches are in flight at once: each slot
    // a run touches stays resident, and most runs never need them all.
    const slots = Array.from({ length: Math.min(this.#slotCount, DEFAULT_SLOTS) }, () => new SharedArrayBuffer(WRITE_BATCH_BYTES));
    this.#slots = slots.map((slot) => Buffer.from(slot));
    this.#free.push(...slots.keys());
    const busy = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT * this.#slotCount);
    this.#busy = new Int32Array(busy);
    const workerData: DiskWorkerData = { slots, busy, ...(this.#slowOpenMs !== undefined ? { slowOpenMs: this.#slowOpenMs } : {}) };
    if (this.#pause !== undefined) workerData.pause = this.#pause;
    const worker = new Worker(new URL(`./disk-thread-worker${extension}`, import.meta.url), { resourceLimits, workerData });
    worker.on('message', (replies: DiskReply[]) => {
      this.#reclaim(); // the worker frees a batch's slot before it answers the request
      for (const reply of replies) {
        const pending = this.#pending.get(reply.req);
        this.#pending.delete(reply.req);
        if (reply.error) pending?.reject(revive(reply.error));
        else pending?.resolve(reply);
      }
    });
    const fail = (error: Error): void => {
      this.#failure ??= error;
      for (const pending of this.#pending.values()) pending.reject(this.#failure);
      this.#pending.clear();
      for (const slot of this.#sent) this.#release(slot);
      this.#sent.clear();
    };
    worker.on('error', (error) => fail(new Error(`the disk thread failed: ${error.message}`, { cause: error })));
    worker.on('exit', (code) => fail(new Error(`the disk thread stopped (exit code ${code})`)));
    this.#worker = worker;
    return worker;
  }

  // A free slot, at once or when a batch in flight gives one back. Slots the worker is done with are taken back
  // first and the last freed is used next, so the memory touched stays that of the batches really in flight at
  // once, not of every slot (they are allocated for the most downloads the run may have).
  #slot(): number | Promise<number> {
    this.#reclaim();
    const free = this.#free.pop();
    if (free !== undefined) return free;
    if (this.#slots.length < this.#slotCount && this.#worker !== undefined) {
      const buffer = new SharedArrayBuffer(WRITE_BATCH_BYTES);
      const slot = this.#slots.length;
      this.#slots.push(Buffer.from(buffer));
      const added: DiskRequest = { req: -1, op: 'slot', slot, buffer };
      this.#worker.postMessage([added]); // before any batch that names it
      return slot;
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  // The slots whose batches the worker has written (it may not have replied yet) are free again.
  #reclaim(): void {
    for (const slot of this.#sent) {
      if (Atomics.load(this.#busy, slot) !== 0) continue;
      this.#sent.delete(slot);
      this.#release(slot);
    }
  }

  #release(slot: number): void {
    const next = this.#waiting.shift();
    if (next) next(slot);
    else this.#free.push(slot);
  }

  // Sends a request; `slot` is the slot its batch is in, held until the worker has written it.
  #request(request: Request, slot?: number): Promise<DiskReply> {
    let worker: Worker;
    try {
      worker = this.#start();
    } catch (error) {
      if (slot !== undefined) this.#release(slot);
      return Promise.reject(error);
    }
    const req = this.#nextRequest++;
    if (slot !== undefined) {
      Atomics.store(this.#busy, slot, 1);
      this.#sent.add(slot);
    }
    return new Promise<DiskReply>((resolve, reject) => {
      this.#pending.set(req, { resolve, reject });
      this.#outbox.push({ ...request, req });
      // A large file's batches stream at once (the file has at most two in flight); a file's last batch, all of
      // a small one, waits up to FLUSH_MS for others (or until FLUSH_COUNT are waiting) to go in one message.
      if ((request.op === 'write' && !request.last) || this.#outbox.length >= FLUSH_COUNT) this.#flush(worker);
      else this.#flushTimer ??= setTimeout(() => this.#flush(worker), FLUSH_MS);
    });
  }

  // The requests waiting go in one message: each message wakes the worker, which on a 2-core VM costs the
  // sender more than the request itself (bench/limits.md). An empty outbox sends nothing.
  #flush(worker: Worker): void {
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    const batch = this.#outbox;
    this.#outbox = [];
    if (batch.length > 0) worker.postMessage(batch);
  }

  // The body streamed into a fresh temp file in `dir` (hashed, size-checked, fsynced), then given `finalPath` in
  // the same request as its last batch: the worker renames the file once it is fsynced and answers after the
  // folder's fsync. When another file holds `finalPath` (never replaced), resolves with `taken`: the temp file.
  // On any failure the temp file is removed: a size mismatch (DownloadError, retryable), a full disk
  // (DiskFullError), an abort (the signal's reason is thrown); other errors (e.g. the body's) are rethrown.
  async writeFile(
    dir: string,
    body: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>,
    finalPath: string,
    opts: WriteFileOptions = {},
  ): Promise<WrittenFile> {
    const { sha256, bytes, tempPath, taken, sidecar } = await this.#write(dir, body, opts, finalPath);
    return taken ? { sha256, bytes, taken: tempPath } : { sha256, bytes, ...(sidecar ? { sidecar } : {}) };
  }

  async #write(
    dir: string,
    body: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>,
    opts: WriteFileOptions,
    finalPath: string,
  ): Promise<{ tempPath: string; sha256: string; bytes: number; taken?: boolean; sidecar?: true }> {
    const { expectedSize, signal } = opts;
    signal?.throwIfAborted();
    const mtime = opts.mtimeMs === undefined ? undefined : msArg(opts.mtimeMs);
    const tempPath = tempName(dir);
    const file = this.#nextFile++;
    const inFlight: Array<Promise<DiskReply>> = [];
    let sent = false; // the worker may have created the temp file
    let slot: number | undefined; // the slot being filled
    let folder: FolderIdentity | undefined; // sent with the first batch (then undefined)
    // A body that stalls still ends with the signal: a stream is destroyed with its reason.
    const stop = (): void => (body as { destroy?: (error?: unknown) => void }).destroy?.(signal?.reason);
    signal?.addEventListener('abort', stop, { once: true });
    try {
      if (opts.root === undefined) await fs.mkdir(dir, { recursive: true });
      else folder = await ensureDirInside(opts.root, dir, opts.folders);
      const defer = opts.sidecarDevice !== undefined && folder !== undefined && onDevice(folder, opts.sidecarDevice);
      this.#start();
      let bytes = 0;
      let used = 0; // the current batch's bytes
      let end = 0; // where they end in its slot (alignment gaps included)
      let segments: number[] = []; // where they are in its slot: start, length, ...
      let batched = 0; // bytes handed to batches so far
      let room = 0; // bytes the current batch takes (it ends where the file does when its size is known)
      const send = (last: boolean): Promise<DiskReply> => {
        const request = {
          op: 'write',
          file,
          path: tempPath,
          slot: slot ?? -1,
          segments,
          last,
          ...(last ? { finalPath } : {}),
          ...(last && mtime !== undefined ? { mtime } : {}),
          ...(last && opts.sidecarHead !== undefined
            ? { sidecar: { path: tempName(dir), head: opts.sidecarHead, ...(defer ? { defer: true as const } : {}) } }
            : {}),
          ...(sent ? {} : { first: true }),
          ...(folder !== undefined ? { folder } : {}),
        } as const;
        folder = undefined;
        const held = slot;
        slot = undefined;
        used = 0;
        end = 0;
        segments = [];
        sent = true;
        const reply = this.#request(request, held);
        reply.catch(() => undefined); // a batch that fails while the body is still read is awaited (and thrown) later
        inFlight.push(reply);
        return reply;
      };
      // The body, read directly (a stream pipeline would build an AbortController and a DOMException per file).
      for await (const piece of body) {
        signal?.throwIfAborted();
        let chunk: Uint8Array = typeof piece === 'string' ? Buffer.from(piece) : piece;
        bytes += chunk.byteLength;
        if (expectedSize !== undefined && bytes > expectedSize) {
          throw new DownloadError(`size mismatch: received more than the expected ${expectedSize} bytes`, { retryable: true, reason: 'size_mismatch' });
        }
        while (chunk.byteLength > 0) {
          if (slot === undefined) {
            const next = this.#slot();
            slot = typeof next === 'number' ? next : await next;
            room = expectedSize === undefined ? WRITE_BATCH_BYTES : Math.max(1, Math.min(WRITE_BATCH_BYTES, expectedSize - batched));
          }
          // Copying into shared memory goes word by word only where source and destination are equally aligned
          // (mod 8), and byte by byte otherwise, many times slower, and a body's first
          // chunk starts after the response's headers (bench/limits.md). So each chunk goes to the next offset
          // aligned like it, and a gap of up to 7 bytes starts a new segment; a small chunk (cheap to copy
          // either way) goes right after the last one, so many of them do not make many segments.
          const start = chunk.byteLength < ALIGN_FROM_BYTES ? end : end + ((chunk.byteOffset - end) & 7);
          const take = Math.min(chunk.byteLength, room - used, WRITE_BATCH_BYTES - start);
          if (take > 0) {
            this.#slots[slot]!.set(take === chunk.byteLength ? chunk : chunk.subarray(0, take), start);
            if (start === end && segments.length > 0) segments[segments.length - 1]! += take;
            else segments.push(start, take);
            end = start + take;
            used += take;
            batched += take;
            chunk = chunk.subarray(take);
          }
          if ((used === room || WRITE_BATCH_BYTES - end < 8) && batched !== expectedSize) {
            void send(false);
            if (inFlight.length > 1) await inFlight.shift(); // at most two batches of this file in flight
          }
        }
      }
      signal?.throwIfAborted();
      if (expectedSize !== undefined && bytes !== expectedSize) {
        throw new DownloadError(`size mismatch: received ${bytes} of ${expectedSize} bytes`, { retryable: true, reason: 'size_mismatch' });
      }
      opts.onReceived?.();
      const last = send(true);
      for (const reply of inFlight) await reply; // in order: an earlier batch's failure is the cause of a later one's
      const done = await last;
      return {
        tempPath,
        sha256: done.sha256!,
        bytes: done.bytes!,
        ...(done.taken === true ? { taken: true } : {}),
        ...(done.sidecar === true ? { sidecar: true } : {}),
      };
    } catch (error) {
      if (slot !== undefined) this.#release(slot);
      await Promise.allSettled(inFlight);
      // A folder that changed: the worker removed what it could safely. Its recorded identity stays in
      // opts.folders, so the next file is checked against it (refused until the folder is put back) and a folder
      // moved away is never created afresh in its place during this run (that would block putting it back).
      if (sent && !(error instanceof OutputUnsafeError)) await this.#request({ op: 'discard', file, path: tempPath }).catch(() => undefined);
      throw translate(error, finalPath, signal);
    } finally {
      signal?.removeEventListener('abort', stop);
    }
  }

  // commitTemp's contract (atomic-write.ts): the final name, durably, never replacing another file ('taken':
  // the temp file is kept) nor writing through a symlink.
  async commitTemp(tempPath: string, finalPath: string, sha256?: string, folder?: FolderIdentity): Promise<Placement> {
    try {
      const reply = await this.#request({
        op: 'commit',
        tempPath,
        finalPath,
        ...(sha256 === undefined ? {} : { sha256 }),
        ...(folder === undefined ? {} : { folder }),
      });
      return reply.taken === true ? 'taken' : 'placed';
    } catch (error) {
      throw translate(error, finalPath);
    }
  }

  // Remove a temp file that will not be committed (a final name was taken and the item gave up).
  async discardTemp(tempPath: string): Promise<void> {
    await this.#request({ op: 'discard', file: -1, path: tempPath });
  }

  // Stops the worker (after the run's last file). Safe to call more than once, or when it never started.
  async close(): Promise<void> {
    this.#failure ??= new Error('the disk thread is closed');
    if (this.#worker !== undefined) await this.#worker.terminate();
  }
}
