// Which directories an output folder is made of, so that a folder swapped for a symlink (or another directory)
// after it was checked is noticed before a file is created or renamed through it. Node has no openat/renameat:
// every create and rename goes by path, so the path is re-checked right before each batch of them (disk thread,
// atomic-write.ts) and again after a batch of renames (ARCHITECTURE.md, "Output folders that change").

import fs from 'node:fs';
import { OutputUnsafeError } from '../errors.js';

// Every component from just below the archive root down to the folder itself, with the device and inode each
// had when it was created and checked (strings: inode numbers can exceed 2^53). Plain data: it travels to the
// disk thread with a file's first batch.
export interface FolderIdentity {
  dir: string; // the folder (absolute)
  paths: string[]; // its components below the root, top down; the last is `dir`
  ids: string[]; // `${dev}:${ino}` of each, as recorded
}

// The identity of a file or directory from an lstat with bigints.
export function idOf(stat: fs.BigIntStats): string {
  return `${stat.dev}:${stat.ino}`;
}

// What changed about the folder since it was recorded (a component gone, now a symlink or not a directory, or
// another directory in its place), or undefined when every component is still the same real directory.
// One lstat per component, top down.
export function folderChange(folder: FolderIdentity): string | undefined {
  for (let i = 0; i < folder.paths.length; i++) {
    const at = folder.paths[i]!;
    const stat = fs.lstatSync(at, { bigint: true, throwIfNoEntry: false });
    if (stat === undefined) return `${at} is gone`;
    if (stat.isSymbolicLink()) return `${at} was replaced by a symlink`;
    if (!stat.isDirectory()) return `${at} is no longer a directory`;
    if (idOf(stat) !== folder.ids[i]) return `${at} was replaced by another directory`;
  }
  return undefined;
}

// The error for a folder that changed during the run (reason `output_unsafe`; the run stops).
export function unsafeFolder(change: string, what: string): OutputUnsafeError {
  return new OutputUnsafeError(`output folder changed during the run: ${change}; refusing to ${what} in it; restore it and re-run`);
}

// The error for an output folder that is unsafe when first checked (a symlink on the way from the archive root,
// or resolving outside it): reason `output_unsafe` too, and the run stops, since every file there would fail.
export function unsafeFolderFound(problem: string): OutputUnsafeError {
  return new OutputUnsafeError(`unsafe output folder: ${problem}; refusing to write through it; make it a real folder inside the output folder and re-run`);
}

// The error for an output folder that is missing although the state has files in it (moved away or deleted):
// reason `output_unsafe`, the run stops; dps does not create it again in its place (atomic-write.ts).
export function folderGone(dir: string): OutputUnsafeError {
  return new OutputUnsafeError(
    `output folder ${dir} is gone, but the state has files archived in it; refusing to create it afresh; put it back and re-run (or create it yourself, empty, to archive into it anew)`,
  );
}

// Throws when the folder changed (see folderChange).
export function checkFolder(folder: FolderIdentity | undefined, what: string): void {
  if (folder === undefined) return;
  const change = folderChange(folder);
  if (change !== undefined) throw unsafeFolder(change, what);
}

// Removes `file` only if it is still the file we made (same device and inode): undoing our own create or rename
// through a path that may now lead elsewhere, never deleting anything that is not ours. True when removed.
export function removeIfOurs(file: string, id: string | undefined): boolean {
  if (id === undefined) return false;
  try {
    const stat = fs.lstatSync(file, { bigint: true, throwIfNoEntry: false });
    if (stat === undefined || !stat.isFile() || idOf(stat) !== id) return false;
    fs.unlinkSync(file);
    return true;
  } catch {
    return false;
  }
}

// Removes `file` only if it is a regular file holding exactly `bytes`: undoing a small file of ours whose inode was
// never looked up (a deferred sidecar, disk-thread-worker.ts). A file with the very same bytes loses nothing by
// going; any other is left. Never through a symlink, never blocked by a FIFO put there (opened non-blocking, and
// it must be the very file the name led to), and unlinked only if the name still leads to the file compared.
// True when removed.
export function removeIfSame(file: string, bytes: Uint8Array): boolean {
  try {
    const stat = fs.lstatSync(file, { bigint: true, throwIfNoEntry: false });
    if (stat === undefined || !stat.isFile() || stat.size !== BigInt(bytes.byteLength)) return false;
    const id = idOf(stat);
    const flags = fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0) | (fs.constants.O_NONBLOCK ?? 0);
    const fd = fs.openSync(file, flags);
    let same = false;
    try {
      if (idOf(fs.fstatSync(fd, { bigint: true })) !== id) return false;
      const held = Buffer.alloc(bytes.byteLength + 1);
      let read = 0;
      for (let n = 1; n > 0 && read < held.length; read += n) n = fs.readSync(fd, held, read, held.length - read, read);
      same = read === bytes.byteLength && held.subarray(0, read).equals(bytes);
    } finally {
      fs.closeSync(fd);
    }
    if (!same) return false;
    return removeIfOurs(file, id);
  } catch {
    return false;
  }
}
