// Getting bytes onto disk so that a crash, a full disk or an abort never leaves a half-written file under a
// final name: stream into a temp file (hashing as we go), fsync, then rename; duplicates become hard links.

import { createHash, randomBytes } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import type { Dirent, Stats } from 'node:fs';
import fs from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { DiskFullError, DownloadError, isDiskFull, OutputError } from '../errors.js';
import { place } from './no-replace.js';
import type { Placement } from './no-replace.js';
import { checkFolder, idOf, removeIfOurs, unsafeFolderFound } from './folder-identity.js';
import type { FolderIdentity } from './folder-identity.js';
import { holdFolder } from './pinned-folder.js';
import type { Pin } from './pinned-folder.js';

// Temp files are dotfiles with this suffix, so removeStaleTemps can find what a crashed run left behind.
export const TEMP_SUFFIX = '.dps-tmp';
const TEMP_NAME = /^\.[0-9a-f]{24}\.dps-tmp$/;

// O_NOFOLLOW does not exist on Windows; O_EXCL already refuses an existing name (symlinks included).
export const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0);

// Hard links are impossible here (other device, file system without links, link count limit): keep a reference.
const NO_LINK = new Set(['EXDEV', 'EPERM', 'EMLINK', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

export interface WriteTempOptions {
  expectedSize?: number | undefined;
  signal?: AbortSignal | undefined;
  // The archive root: `dir` must resolve inside it, and no existing component between them may be a symlink.
  root?: string | undefined;
  // Folders already created and checked during this run (one Map per run): each is checked once, not per file.
  folders?: FolderCache | undefined;
  // Called once every byte has arrived and been written, before the fsync: the download's slot can go to the
  // next transfer while this file is made durable.
  onReceived?: (() => void) | undefined;
}

// Folder -> its check (created below root, no symlink on the way, resolves inside root), shared within one run;
// the check yields the folder's identity, re-checked before each create and rename in it (folder-identity.ts).
export type FolderCache = Map<string, Promise<FolderIdentity>>;

// Bytes gathered before one write(v) call: a few syscalls for a large file instead of one per network chunk.
const WRITE_BATCH_BYTES = 512 * 1024;

export interface TempFile {
  tempPath: string;
  sha256: string;
  bytes: number;
  folder?: FolderIdentity | undefined; // the folder's identity when checked (writeTemp with a root)
}

const errorCode = (error: unknown): unknown => (error as { code?: unknown } | null)?.code;

// Is target inside base (or base itself, when allowed)? A plain prefix test would accept `..foo` or `/a/bc`.
function isInside(base: string, target: string, allowEqual: boolean): boolean {
  const rel = path.relative(base, target);
  if (rel === '') return allowEqual;
  return rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel);
}

// A temp name is unique without drawing random bytes per file (~23 us each on the main thread): 64 random bits
// per process, then a counter. O_EXCL still refuses a name that exists.
const TEMP_PREFIX = randomBytes(8).toString('hex');
let tempCounter = 0;

export function tempName(dir: string): string {
  tempCounter = (tempCounter + 1) % 0x1_0000_0000;
  return path.join(dir, `.${TEMP_PREFIX}${tempCounter.toString(16).padStart(8, '0')}${TEMP_SUFFIX}`);
}

function refuse(message: string): DownloadError {
  return new DownloadError(message, { retryable: false });
}

// A final name held by a symlink is never replaced (commitTemp, linkDuplicate).
function symlinkRefusal(finalPath: string): DownloadError {
  return refuse(`refusing to replace symlink ${finalPath}`);
}

// Some platforms cannot fsync a directory, which is fine: these errors are ignored.
const DIR_SYNC_UNSUPPORTED = new Set(['EISDIR', 'EINVAL', 'EPERM', 'EACCES']);

// Translate a failure once: a full disk stops the run, an abort surfaces as the signal's reason.
function translate(error: unknown, what: string, signal?: AbortSignal): unknown {
  if (signal?.aborted) return signal.reason;
  if (isDiskFull(error)) return new DiskFullError(`no space left while writing ${what}`, { cause: error });
  return error;
}

// Create `dir` one component at a time below `root`, refusing symlinks and anything that is not a directory;
// returns the identity (device + inode) of each component, to notice a swap later (folder-identity.ts).
// A symlink on the way or a folder resolving outside root is unsafe output (OutputUnsafeError: reason
// output_unsafe, the run stops), like a folder swapped later; `dir` itself outside root is a caller's bug.
async function makeDirInside(root: string, dir: string): Promise<FolderIdentity> {
  const base = path.resolve(root);
  const target = path.resolve(dir);
  if (!isInside(base, target, true)) throw refuse(`refusing to write ${target}: not inside ${base}`);
  await fs.mkdir(base, { recursive: true });
  let current = base;
  const identity: FolderIdentity = { dir: target, paths: [], ids: [] };
  const rel = path.relative(base, target);
  for (const part of rel === '' ? [] : rel.split(path.sep)) {
    current = path.join(current, part);
    try {
      await fs.mkdir(current);
    } catch (error) {
      if (errorCode(error) !== 'EEXIST') throw error;
    }
    const stat = await fs.lstat(current, { bigint: true });
    if (stat.isSymbolicLink()) throw unsafeFolderFound(`${current} is a symlink`);
    // A file in the way of a folder refuses every file below it: the run stops (DPS_OUTPUT), nothing is retried.
    if (!stat.isDirectory()) throw new OutputError(`cannot write into ${current}: a file is in the way of a folder; move it and re-run`);
    identity.paths.push(current);
    identity.ids.push(idOf(stat));
  }
  const [realBase, realTarget] = await Promise.all([fs.realpath(base), fs.realpath(target)]);
  if (!isInside(realBase, realTarget, true)) throw unsafeFolderFound(`${target} resolves outside ${base}`);
  return identity;
}

// Create and check `dir` once per run (see makeDirInside); a failed check is not cached.
export function ensureDirInside(root: string, dir: string, folders: FolderCache | undefined): Promise<FolderIdentity> {
  if (folders === undefined) return makeDirInside(root, dir);
  const key = path.resolve(dir);
  let check = folders.get(key);
  if (check === undefined) {
    check = makeDirInside(root, dir);
    folders.set(key, check);
    check.catch(() => folders.delete(key));
  }
  return check;
}

// Write every byte of `chunks` (in order), looping over short writes.
async function writeAll(handle: FileHandle, chunks: Uint8Array[]): Promise<void> {
  let pending = chunks;
  while (pending.length > 0) {
    const { bytesWritten } = pending.length === 1 ? await handle.write(pending[0]!, 0, pending[0]!.byteLength) : await handle.writev(pending);
    let written = bytesWritten;
    while (pending.length > 0 && written >= pending[0]!.byteLength) {
      written -= pending[0]!.byteLength;
      pending = pending.slice(1);
    }
    if (written > 0) pending = [pending[0]!.subarray(written), ...pending.slice(1)];
  }
}

// Stream a body into a fresh temp file in `dir`, hashing while writing, then fsync it. The temp file is
// removed on any failure: a size mismatch (DownloadError, retryable), a full disk (DiskFullError), an abort
// (the signal's reason is thrown); other errors (e.g. from the body) are rethrown unchanged.
export async function writeTemp(dir: string, body: AsyncIterable<Uint8Array | string> | NodeJS.ReadableStream, opts: WriteTempOptions = {}): Promise<TempFile> {
  const { expectedSize, signal } = opts;
  signal?.throwIfAborted();
  const tempPath = tempName(dir);
  let handle: FileHandle | undefined;
  let pin: Pin | undefined;
  try {
    let folder: FolderIdentity | undefined;
    if (opts.root === undefined) await fs.mkdir(dir, { recursive: true });
    else folder = await ensureDirInside(opts.root, dir, opts.folders);
    // The folder may have been swapped since it was checked: checked again, and the temp file created through
    // its descriptor (pinned-folder.ts), so it lands in the checked directory whatever the path leads to now.
    pin = holdChecked(folder, 'create a file');
    handle = await fs.open(pin?.at(tempPath) ?? tempPath, CREATE_FLAGS, 0o666);
    const file = handle;
    const hash = createHash('sha256');
    let bytes = 0;
    // One consumer that hashes and counts each chunk as it arrives and writes them in batches of up to
    // WRITE_BATCH_BYTES before pulling more: backpressure for free, at most one batch held per download.
    const sink = async (source: AsyncIterable<Uint8Array | string>): Promise<void> => {
      let batch: Uint8Array[] = [];
      let batched = 0;
      for await (const piece of source) {
        const chunk = typeof piece === 'string' ? Buffer.from(piece) : piece;
        bytes += chunk.byteLength;
        if (expectedSize !== undefined && bytes > expectedSize) {
          const message = `size mismatch: received more than the expected ${expectedSize} bytes`;
          throw new DownloadError(message, { retryable: true, reason: 'size_mismatch' });
        }
        hash.update(chunk);
        batch.push(chunk);
        batched += chunk.byteLength;
        if (batched >= WRITE_BATCH_BYTES) {
          await writeAll(file, batch);
          batch = [];
          batched = 0;
        }
      }
      if (batch.length > 0) await writeAll(file, batch);
    };
    await pipeline(body as AsyncIterable<Uint8Array | string>, sink, signal === undefined ? {} : { signal });
    if (expectedSize !== undefined && bytes !== expectedSize) {
      throw new DownloadError(`size mismatch: received ${bytes} of ${expectedSize} bytes`, { retryable: true, reason: 'size_mismatch' });
    }
    opts.onReceived?.();
    await file.sync();
    handle = undefined;
    await file.close();
    return { tempPath, sha256: hash.digest('hex'), bytes, folder };
  } catch (error) {
    await handle?.close().catch(() => {});
    await fs.rm(pin?.at(tempPath) ?? tempPath, { force: true }).catch(() => {});
    throw translate(error, tempPath, signal);
  } finally {
    pin?.release();
  }
}

// fsync a directory so a rename in it survives a power cut; some platforms cannot, which is fine.
async function syncDir(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await fs.open(dir, 'r');
    await handle.sync();
  } catch (error) {
    if (!DIR_SYNC_UNSUPPORTED.has(String(errorCode(error)))) throw error;
  } finally {
    await handle?.close();
  }
}

// Renames into one folder that finish while its fsync is queued share that fsync: at most one runs and one
// waits per folder, so eight parallel downloads into a channel folder do not cost eight directory fsyncs each.
const queuedDirSyncs = new Map<string, Promise<void>>();
const runningDirSyncs = new Map<string, Promise<void>>();

function syncDirAfterRename(dir: string): Promise<void> {
  const queued = queuedDirSyncs.get(dir);
  if (queued !== undefined) return queued; // not started yet, so it will cover our rename
  const running = runningDirSyncs.get(dir) ?? Promise.resolve();
  const next: Promise<void> = running
    .catch(() => undefined)
    .then(() => {
      queuedDirSyncs.delete(dir);
      runningDirSyncs.set(dir, next);
      return syncDir(dir);
    })
    .finally(() => {
      if (runningDirSyncs.get(dir) === next) runningDirSyncs.delete(dir);
    });
  queuedDirSyncs.set(dir, next);
  return next;
}

async function lstatOrUndefined(file: string): Promise<Stats | undefined> {
  try {
    return await fs.lstat(file);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw error;
  }
}

// Give a finished temp file its final name atomically and make it durable, never replacing anything already
// under that name (no-replace.ts): a file with the same bytes there is adopted, any other makes the name
// 'taken' and the temp file is kept for the caller's next candidate name. Never writes through a symlink.
// `sha256`: the temp file's hash when known (else it is hashed if a file holds the name). With `folder` (its
// identity when checked), the folder is re-checked right before the link and after it: a folder swapped
// meanwhile fails the commit (OutputUnsafeError) and the file is taken back (removeIfOurs). Both names go
// through the folder's descriptor (pinned-folder.ts): the link lands in the checked directory, not where a
// swapped path leads.
export async function commitTemp(tempPath: string, finalPath: string, sha256?: string, folder?: FolderIdentity): Promise<Placement> {
  let id: string | undefined;
  const pin = holdChecked(folder, 'rename a file');
  const at = (file: string): string => pin?.at(file) ?? file;
  try {
    if (folder !== undefined) id = idOf(await fs.lstat(at(tempPath), { bigint: true }));
    const placed = await place(at(tempPath), at(finalPath), sha256, () => symlinkRefusal(finalPath));
    if (placed === 'placed') {
      keepOnlyInside(folder, at(finalPath), id);
      await syncDirAfterRename(path.dirname(finalPath));
    }
    return placed;
  } catch (error) {
    if (folder === undefined) await fs.rm(tempPath, { force: true }).catch(() => {});
    else removeIfOurs(at(tempPath), id);
    throw translate(error, finalPath);
  } finally {
    pin?.release();
  }
}

// What writeFile resolves with: the file's sha256 and size; `taken` when another file
// holds the final name: the temp file, kept, to commit under the next candidate name or discard.
export type WrittenFile = Omit<TempFile, 'tempPath'> & { taken?: string | undefined };

// writeTemp then commitTemp to `finalPath` (in `dir`), in one go: resolves once the file is durably there, or,
// when another file holds `finalPath` (never replaced), with `taken`.
export async function writeFile(
  dir: string,
  body: AsyncIterable<Uint8Array | string> | NodeJS.ReadableStream,
  finalPath: string,
  opts: WriteTempOptions = {},
): Promise<WrittenFile> {
  const temp = await writeTemp(dir, body, opts);
  const placed = await commitTemp(temp.tempPath, finalPath, temp.sha256, temp.folder);
  return { sha256: temp.sha256, bytes: temp.bytes, ...(placed === 'taken' ? { taken: temp.tempPath } : {}) };
}

// Remove a temp file that will not be committed (a final name was taken and the item gave up).
export async function discardTemp(tempPath: string): Promise<void> {
  await fs.rm(tempPath, { force: true });
}

// `folder` checked and held open for the calls that follow (release the pin after them); none unchecked.
function holdChecked(folder: FolderIdentity | undefined, what: string): Pin | undefined {
  if (folder === undefined) return undefined;
  checkFolder(folder, what);
  return holdFolder(folder);
}

// After a rename or link into a checked folder: the folder must still be the one checked, else our file (only
// ours: same inode) is taken back (`placed`: its name through the folder's descriptor, if held).
function keepOnlyInside(folder: FolderIdentity | undefined, placed: string, id: string | undefined): void {
  if (folder === undefined) return;
  try {
    checkFolder(folder, 'keep a file');
  } catch (error) {
    removeIfOurs(placed, id);
    throw error;
  }
}

// Rename over finalPath, which the caller owns (its own copy, replaced by a link to the first one); with
// `folder`, re-checked around the rename like commitTemp and renamed through `pin` (the caller's hold on it).
async function replaceOwn(tempPath: string, finalPath: string, folder?: FolderIdentity, pin?: Pin): Promise<void> {
  let id: string | undefined;
  const at = (file: string): string => pin?.at(file) ?? file;
  try {
    const existing = await lstatOrUndefined(at(finalPath));
    if (existing?.isSymbolicLink()) throw symlinkRefusal(finalPath);
    if (folder !== undefined) {
      checkFolder(folder, 'rename a file');
      id = idOf(await fs.lstat(at(tempPath), { bigint: true }));
    }
    await fs.rename(at(tempPath), at(finalPath));
    keepOnlyInside(folder, at(finalPath), id);
    await syncDirAfterRename(path.dirname(finalPath));
  } catch (error) {
    if (folder === undefined) await fs.rm(tempPath, { force: true }).catch(() => {});
    else removeIfOurs(at(tempPath), id);
    throw translate(error, finalPath);
  }
}

// Make finalPath another name for the bytes already at existingPath (a duplicate download). Returns
// 'referenced' without creating anything when the file system cannot hard-link them.
// With `folder`, the link is made and renamed only while the folder is the one checked (see commitTemp).
export async function linkDuplicate(existingPath: string, finalPath: string, folder?: FolderIdentity): Promise<'linked' | 'referenced'> {
  const source = await fs.lstat(existingPath);
  if (!source.isFile()) throw refuse(`cannot link to ${existingPath}: not a regular file`);
  const pin = holdChecked(folder, 'link a file');
  const at = (file: string): string => pin?.at(file) ?? file;
  try {
    const current = await lstatOrUndefined(at(finalPath));
    if (current?.isSymbolicLink()) throw symlinkRefusal(finalPath);
    if (current !== undefined && current.ino === source.ino && current.dev === source.dev) return 'linked';
    // Link under a temp name, then rename over the caller's copy: atomic either way.
    const tempPath = tempName(path.dirname(finalPath));
    try {
      checkFolder(folder, 'link a file');
      await fs.link(existingPath, at(tempPath));
    } catch (error) {
      if (NO_LINK.has(String(errorCode(error)))) return 'referenced';
      throw translate(error, finalPath);
    }
    await replaceOwn(tempPath, finalPath, folder, pin);
    return 'linked';
  } finally {
    pin?.release();
  }
}

// Make finalPath a new name for the file at existingPath (a reference to an archived attachment) without
// replacing anything: 'taken' when another file holds finalPath, 'referenced' when links are impossible.
// A link to the same file already there (a crashed run made it) counts as linked.
export async function linkReference(existingPath: string, finalPath: string, folder?: FolderIdentity): Promise<'linked' | 'referenced' | 'taken'> {
  const source = await fs.lstat(existingPath, { bigint: true });
  if (!source.isFile()) throw refuse(`cannot link to ${existingPath}: not a regular file`);
  const pin = holdChecked(folder, 'link a file');
  const placed = pin?.at(finalPath) ?? finalPath;
  try {
    try {
      await fs.link(existingPath, placed);
    } catch (error) {
      const code = String(errorCode(error));
      if (NO_LINK.has(code)) return 'referenced';
      if (code !== 'EEXIST') throw translate(error, finalPath);
      const current = await fs.lstat(placed, { bigint: true });
      if (current.isSymbolicLink()) throw symlinkRefusal(finalPath);
      return idOf(current) === idOf(source) ? 'linked' : 'taken';
    }
    keepOnlyInside(folder, placed, idOf(source)); // a hard link: the same inode as the first copy
    await syncDirAfterRename(path.dirname(finalPath));
    return 'linked';
  } finally {
    pin?.release();
  }
}

// Delete the temp files a crashed or killed run left anywhere under root (symlinks are not followed).
// Returns how many were removed.
export async function removeStaleTemps(root: string, signal?: AbortSignal): Promise<number> {
  signal?.throwIfAborted();
  let entries: AsyncIterable<Dirent>;
  try {
    entries = await fs.opendir(root);
  } catch (error) {
    if (errorCode(error) === 'ENOENT' || errorCode(error) === 'ENOTDIR') return 0;
    throw error;
  }
  let removed = 0;
  for await (const entry of entries) {
    signal?.throwIfAborted();
    const full = path.join(root, entry.name);
    if (entry.isDirectory()) removed += await removeStaleTemps(full, signal);
    else if (entry.isFile() && TEMP_NAME.test(entry.name)) {
      await fs.rm(full, { force: true });
      removed++;
    }
  }
  return removed;
}

// Is there a regular file at `file` with this size (and, only when asked, this sha256)? Cheap by default.
export async function fileMatches(file: string, size: number, sha256?: string, signal?: AbortSignal): Promise<boolean> {
  const stat = await lstatOrUndefined(file);
  if (stat === undefined || !stat.isFile() || stat.size !== size) return false;
  if (sha256 === undefined) return true;
  const hash = createHash('sha256');
  const digest = async (source: AsyncIterable<Buffer>): Promise<void> => {
    for await (const chunk of source) hash.update(chunk);
  };
  await pipeline(createReadStream(file), digest, signal === undefined ? {} : { signal });
  return hash.digest('hex') === sha256.toLowerCase();
}
