// What the durable write (disk-thread.ts) builds on, and what it does not do: output folders created and checked
// inside the archive root, temp names and their sweep after a crash, duplicates and references made hard links
// (atomically, never over another file), and the check that a file on disk matches its record.

import { createHash, randomBytes } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import type { BigIntStats, Dirent, Stats } from 'node:fs';
import fs from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { DiskFullError, DownloadError, isDiskFull, OutputError } from '../errors.js';
import { checkFolder, folderGone, idOf, removeIfOurs, unsafeFolderFound } from './folder-identity.js';
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

// Folder -> its check (created below root, no symlink on the way, resolves inside root), shared within one run;
// the check yields the folder's identity, re-checked before each create and rename in it (folder-identity.ts).
// `holdsFilesUnder` (the run sets it: Store.holdsFilesUnder): whether the state has files in a folder or below
// it. Such a folder is never created, only found: missing, it was moved or deleted, and a fresh one in its place
// would hide that (every record in it would name a path that holds nothing) and block putting it back.
export type FolderCache = Map<string, Promise<FolderIdentity>> & { holdsFilesUnder?: ((dir: string) => Promise<boolean>) | undefined };

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

// A final name held by a symlink is never replaced (the disk thread, linkDuplicate, linkReference).
export function symlinkRefusal(finalPath: string): DownloadError {
  return refuse(`refusing to replace symlink ${finalPath}`);
}

// Some platforms cannot fsync a directory, which is fine: these errors are ignored.
export const DIR_SYNC_UNSUPPORTED = new Set(['EISDIR', 'EINVAL', 'EPERM', 'EACCES']);

// Translate a failure once: a full disk stops the run, an abort surfaces as the signal's reason.
export function translate(error: unknown, what: string, signal?: AbortSignal): unknown {
  if (signal?.aborted) return signal.reason;
  if (isDiskFull(error)) return new DiskFullError(`no space left while writing ${what}`, { cause: error });
  return error;
}

// Create `dir` one component at a time below `root`, refusing symlinks and anything that is not a directory;
// returns the identity (device + inode) of each component, to notice a swap later (folder-identity.ts).
// A symlink on the way or a folder resolving outside root is unsafe output (OutputUnsafeError: reason
// output_unsafe, the run stops), like a folder swapped later; `dir` itself outside root is a caller's bug.
async function makeDirInside(root: string, dir: string, holdsFilesUnder?: (dir: string) => Promise<boolean>): Promise<FolderIdentity> {
  const base = path.resolve(root);
  const target = path.resolve(dir);
  if (!isInside(base, target, true)) throw refuse(`refusing to write ${target}: not inside ${base}`);
  await fs.mkdir(base, { recursive: true });
  let current = base;
  const identity: FolderIdentity = { dir: target, paths: [], ids: [] };
  const rel = path.relative(base, target);
  for (const part of rel === '' ? [] : rel.split(path.sep)) {
    current = path.join(current, part);
    // A folder the state has files in is only looked at, never made: no mkdir can land in the moment it is away.
    const known = holdsFilesUnder !== undefined && (await holdsFilesUnder(current));
    try {
      if (!known) await fs.mkdir(current);
    } catch (error) {
      if (errorCode(error) !== 'EEXIST') throw error;
    }
    let stat: BigIntStats;
    try {
      stat = await fs.lstat(current, { bigint: true });
    } catch (error) {
      throw known && errorCode(error) === 'ENOENT' ? folderGone(current) : error;
    }
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
    check = makeDirInside(root, dir, folders.holdsFilesUnder);
    folders.set(key, check);
    check.catch(() => folders.delete(key));
  }
  return check;
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
// `folder`, re-checked around the rename and renamed through `pin` (the caller's hold on it).
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
// With `folder`, the link is made and renamed only while the folder is the one checked, and taken back
// (removeIfOurs) if the folder changed meanwhile.
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
