// A disk thread (a worker_threads Worker, see disk-thread.ts): hashes and writes the batches of bytes the main
// thread hands it, fsyncs and closes each finished temp file, and commits temp files to their final names.
// Its file-system calls are synchronous (a system call each, where an asynchronous call from the main thread
// also costs two cross-thread wake-ups through libuv's pool), except fsync, which waits for the disk and so
// goes through the pool rather than holding up the other files. One reply per request: {req, ...result} or
// {req, error}. Renames into one folder share one directory fsync: the commits that arrive together are
// acknowledged together once it is done.

import { createHash } from 'node:crypto';
import type { Hash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parentPort } from 'node:worker_threads';
import { CREATE_FLAGS, DIR_SYNC_UNSUPPORTED, symlinkRefusal } from './atomic-write.js';
import type { DiskReply, DiskRequest, SerializedError } from './disk-thread.js';

interface OpenFile {
  fd: number;
  hash: Hash;
  bytes: number;
}

const files = new Map<number, OpenFile>();
const renamed = new Map<string, number[]>(); // folder -> commits waiting for its fsync
let flushing = false;

function serialize(error: unknown): SerializedError {
  const e = error as { name?: unknown; message?: unknown; code?: unknown; retryable?: unknown } | null;
  return {
    name: typeof e?.name === 'string' ? e.name : 'Error',
    message: typeof e?.message === 'string' ? e.message : String(error),
    code: typeof e?.code === 'string' ? e.code : undefined,
    retryable: typeof e?.retryable === 'boolean' ? e.retryable : undefined,
  };
}

const reply = (message: DiskReply): void => parentPort?.postMessage(message);

// Close and remove a temp file after a failure or an abort; nothing is left behind.
function discard(file: number, tempPath: string): void {
  const open = files.get(file);
  files.delete(file);
  if (open !== undefined) {
    try {
      fs.closeSync(open.fd);
    } catch {
      // already closed
    }
  }
  fs.rmSync(tempPath, { force: true });
}

function writeAllSync(fd: number, data: Uint8Array): void {
  for (let offset = 0; offset < data.byteLength; ) offset += fs.writeSync(fd, data, offset, data.byteLength - offset);
}

async function write(request: Extract<DiskRequest, { op: 'write' }>): Promise<Omit<DiskReply, 'req'>> {
  let open = files.get(request.file);
  try {
    if (open === undefined) {
      open = { fd: fs.openSync(request.path, CREATE_FLAGS, 0o666), hash: createHash('sha256'), bytes: 0 };
      files.set(request.file, open);
    }
    open.hash.update(request.data);
    open.bytes += request.data.byteLength;
    writeAllSync(open.fd, request.data);
    if (!request.last) return {};
    await fsync(open.fd);
    files.delete(request.file);
    fs.closeSync(open.fd);
    return { sha256: open.hash.digest('hex'), bytes: open.bytes };
  } catch (error) {
    discard(request.file, request.path);
    throw error;
  }
}

// fsync through libuv's pool: the only call here that waits for the disk, so it must not hold the thread.
function fsync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fsync(fd, (error) => (error ? reject(error) : resolve())));
}

// Rename (never over a symlink); the reply waits for the folder's fsync (flushRenames).
function commit(request: Extract<DiskRequest, { op: 'commit' }>): void {
  try {
    let existing: fs.Stats | undefined;
    try {
      existing = fs.lstatSync(request.finalPath);
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'ENOENT') throw error;
    }
    if (existing?.isSymbolicLink()) throw symlinkRefusal(request.finalPath);
    fs.renameSync(request.tempPath, request.finalPath);
  } catch (error) {
    fs.rmSync(request.tempPath, { force: true });
    reply({ req: request.req, error: serialize(error) });
    return;
  }
  const folder = path.dirname(request.finalPath);
  const waiting = renamed.get(folder);
  if (waiting === undefined) renamed.set(folder, [request.req]);
  else waiting.push(request.req);
  if (!flushing) {
    flushing = true;
    setImmediate(flushRenames);
  }
}

// One fsync per folder for every rename made into it since the last flush.
function flushRenames(): void {
  flushing = false;
  const batches = [...renamed];
  renamed.clear();
  for (const [folder, reqs] of batches) {
    void syncFolder(folder).then((error) => {
      for (const req of reqs) reply(error === undefined ? { req } : { req, error });
    });
  }
}

async function syncFolder(folder: string): Promise<SerializedError | undefined> {
  let fd: number | undefined;
  try {
    fd = fs.openSync(folder, 'r');
    await fsync(fd);
    return undefined;
  } catch (caught) {
    return DIR_SYNC_UNSUPPORTED.has(String((caught as { code?: unknown }).code)) ? undefined : serialize(caught);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

parentPort?.on('message', (request: DiskRequest) => void handle(request));

async function handle(request: DiskRequest): Promise<void> {
  try {
    if (request.op === 'commit') return commit(request);
    if (request.op === 'discard') discard(request.file, request.path);
    if (request.op !== 'write') return reply({ req: request.req });
    const result = await write(request);
    const buffer = request.data.buffer as ArrayBuffer;
    // The batch buffer goes back to the main thread, to carry a later batch.
    parentPort?.postMessage({ req: request.req, ...result, buffer } satisfies DiskReply, buffer.byteLength > 0 ? [buffer] : []);
  } catch (error) {
    reply({ req: request.req, error: serialize(error) });
  }
}
