// Writing files from a second thread. On the main thread each file cost a sha256 over its bytes and about ten
// round trips through libuv's thread pool (open, writes, fsync, close, lstat, rename, ...), each with a
// cross-thread wake-up that a 2-core VM charges to the event loop, the same loop that runs the downloads and
// pages. A DiskThread hands each body to one worker thread in batches of up to 512 KiB (one copy into a reused,
// transferable buffer; at most two batches in flight per file, so a slow disk slows the download instead of
// filling memory); the worker hashes, writes, fsyncs and renames (bench/limits.md has the measurements). Same
// contract as writeTemp / commitTemp in atomic-write.ts, which remain the in-process implementation.

import { Worker } from 'node:worker_threads';
import fs from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { DiskFullError, DownloadError } from '../errors.js';
import { commitTemp, ensureDirInside, tempName, translate, writeTemp, WRITE_BATCH_BYTES } from './atomic-write.js';
import type { TempFile, WriteTempOptions } from './atomic-write.js';

// Where a file's bytes go: in this thread (atomic-write.ts) or a DiskThread.
export interface Disk {
  writeTemp(dir: string, body: AsyncIterable<Uint8Array | string>, opts?: WriteTempOptions): Promise<TempFile>;
  commitTemp(tempPath: string, finalPath: string): Promise<void>;
}

export const inProcessDisk: Disk = { writeTemp, commitTemp };

// The messages between the threads (see disk-thread-worker.ts).
export type DiskRequest =
  | { req: number; op: 'write'; file: number; path: string; data: Uint8Array; last: boolean }
  | { req: number; op: 'discard'; file: number; path: string }
  | { req: number; op: 'commit'; tempPath: string; finalPath: string };

export interface SerializedError {
  name: string;
  message: string;
  code?: string | undefined;
  retryable?: boolean | undefined;
}

export interface DiskReply {
  req: number;
  buffer?: ArrayBuffer; // a write's batch buffer, handed back for the next batch
  error?: SerializedError;
  sha256?: string;
  bytes?: number;
}

// Spare full-size batch buffers kept (2 MiB). A transferred buffer nobody returns lives until a garbage
// collection of the thread holding it; the worker allocates almost nothing, so it would collect rarely.
const MAX_SPARE_BUFFERS = 4;

type Request = DiskRequest extends infer R ? (R extends unknown ? Omit<R, 'req'> : never) : never;

// The worker's errors, as the classes this thread's callers test for.
function revive(error: SerializedError): Error {
  if (error.name === 'DiskFullError') return new DiskFullError(error.message);
  if (error.name === 'DownloadError') return new DownloadError(error.message, { retryable: error.retryable ?? false });
  return Object.assign(new Error(error.message), error.code === undefined ? {} : { code: error.code });
}

// One worker thread, started with the first file (a run that downloads nothing never starts it). One is enough
// on two cores: its fsyncs run in libuv's pool, and a second thread measured no faster for ~10 MB more RSS.
export class DiskThread implements Disk {
  #worker: Worker | undefined;
  #failure: Error | undefined;
  #nextRequest = 1;
  #nextFile = 1;
  readonly #pending = new Map<number, { resolve: (reply: DiskReply) => void; reject: (error: Error) => void }>();
  // Batch buffers come back from the worker (see MAX_SPARE_BUFFERS); full-size ones are used again.
  readonly #buffers: ArrayBuffer[] = [];

  #start(): Worker {
    if (this.#failure) throw this.#failure;
    if (this.#worker) return this.#worker;
    // Compiled, this file is dist/lib/fs/disk-thread.js beside the worker's .js; under the test runner both are .ts.
    const extension = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
    // The worker keeps almost nothing on its heap (a few open files and hashes): a 1 MB young generation keeps
    // its RSS down. The old generation's limit leaves room for a loader compiling TypeScript (the test runner);
    // a worker that exceeded it would fail every write loudly (the 'error' handler below), never silently.
    const resourceLimits = { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 64 };
    const worker = new Worker(new URL(`./disk-thread-worker${extension}`, import.meta.url), { resourceLimits });
    worker.on('message', (reply: DiskReply) => {
      const pending = this.#pending.get(reply.req);
      this.#pending.delete(reply.req);
      if (reply.error) pending?.reject(revive(reply.error));
      else pending?.resolve(reply);
    });
    const fail = (error: Error): void => {
      this.#failure ??= error;
      for (const pending of this.#pending.values()) pending.reject(this.#failure);
      this.#pending.clear();
    };
    worker.on('error', (error) => fail(new Error(`the disk thread failed: ${error.message}`, { cause: error })));
    worker.on('exit', (code) => fail(new Error(`the disk thread stopped (exit code ${code})`)));
    this.#worker = worker;
    return worker;
  }

  #request(request: Request, transfer: ArrayBuffer[] = []): Promise<DiskReply> {
    let worker: Worker;
    try {
      worker = this.#start();
    } catch (error) {
      return Promise.reject(error);
    }
    const req = this.#nextRequest++;
    return new Promise<DiskReply>((resolve, reject) => {
      this.#pending.set(req, { resolve, reject });
      worker.postMessage({ ...request, req }, transfer);
    });
  }

  // writeTemp's contract (atomic-write.ts): the body streamed into a fresh temp file in `dir`, hashed, fsynced;
  // the temp file removed on any failure.
  async writeTemp(dir: string, body: AsyncIterable<Uint8Array | string>, opts: WriteTempOptions = {}): Promise<TempFile> {
    const { expectedSize, signal } = opts;
    signal?.throwIfAborted();
    const tempPath = tempName(dir);
    const file = this.#nextFile++;
    const inFlight: Array<Promise<DiskReply>> = [];
    let sent = false; // the worker may have created the temp file
    try {
      if (opts.root === undefined) await fs.mkdir(dir, { recursive: true });
      else await ensureDirInside(opts.root, dir, opts.folders);
      let bytes = 0;
      let batch: Buffer | undefined;
      let used = 0;
      let batched = 0; // bytes handed to batches so far
      const send = (last: boolean): Promise<DiskReply> => {
        const data = batch === undefined ? new Uint8Array(0) : batch.subarray(0, used);
        const transfer = batch === undefined ? [] : [batch.buffer as ArrayBuffer];
        batch = undefined;
        used = 0;
        sent = true;
        const reply = this.#request({ op: 'write', file, path: tempPath, data, last }, transfer);
        void reply.then(
          (answer) => {
            if (answer.buffer?.byteLength === WRITE_BATCH_BYTES && this.#buffers.length < MAX_SPARE_BUFFERS) this.#buffers.push(answer.buffer);
          },
          () => undefined, // observed below, or after a failure elsewhere
        );
        inFlight.push(reply);
        return reply;
      };
      const sink = async (source: AsyncIterable<Uint8Array | string>): Promise<void> => {
        for await (const piece of source) {
          let chunk: Uint8Array = typeof piece === 'string' ? Buffer.from(piece) : piece;
          bytes += chunk.byteLength;
          if (expectedSize !== undefined && bytes > expectedSize) {
            throw new DownloadError(`size mismatch: received more than the expected ${expectedSize} bytes`, { retryable: true });
          }
          while (chunk.byteLength > 0) {
            if (batch === undefined) {
              // Batches end where the file does when its size is known (no empty last batch).
              const size = expectedSize === undefined ? WRITE_BATCH_BYTES : Math.max(1, Math.min(WRITE_BATCH_BYTES, expectedSize - batched));
              // Full-size batches reuse returned buffers; a smaller one (a small file, or a file's tail) is its own.
              batch = size === WRITE_BATCH_BYTES ? Buffer.from(this.#buffers.pop() ?? Buffer.allocUnsafeSlow(size).buffer) : Buffer.allocUnsafeSlow(size);
            }
            const take = Math.min(chunk.byteLength, batch.byteLength - used);
            batch.set(take === chunk.byteLength ? chunk : chunk.subarray(0, take), used);
            used += take;
            batched += take;
            chunk = chunk.subarray(take);
            if (used === batch.byteLength && batched !== expectedSize) {
              void send(false);
              if (inFlight.length > 1) await inFlight.shift(); // at most two batches of this file in flight
            }
          }
        }
      };
      await pipeline(body, sink, signal === undefined ? {} : { signal });
      if (expectedSize !== undefined && bytes !== expectedSize) {
        throw new DownloadError(`size mismatch: received ${bytes} of ${expectedSize} bytes`, { retryable: true });
      }
      opts.onReceived?.();
      const done = await send(true);
      await Promise.all(inFlight);
      return { tempPath, sha256: done.sha256!, bytes: done.bytes! };
    } catch (error) {
      await Promise.allSettled(inFlight);
      if (sent) await this.#request({ op: 'discard', file, path: tempPath }).catch(() => undefined);
      throw translate(error, tempPath, signal);
    }
  }

  // commitTemp's contract (atomic-write.ts): rename to the final name (never through a symlink), durably.
  async commitTemp(tempPath: string, finalPath: string): Promise<void> {
    try {
      await this.#request({ op: 'commit', tempPath, finalPath });
    } catch (error) {
      throw translate(error, finalPath);
    }
  }

  // Stops the worker (after the run's last file). Safe to call more than once, or when it never started.
  async close(): Promise<void> {
    this.#failure ??= new Error('the disk thread is closed');
    if (this.#worker !== undefined) await this.#worker.terminate();
  }
}
