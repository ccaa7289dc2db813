// An output folder held open by a directory descriptor, so that the disk thread's creates, links and renames in
// it reach that very directory even if its path is swapped for a symlink meanwhile. Node has no
// openat/linkat/renameat, but on Linux /proc/self/fd/N is resolved by the kernel to the open directory itself,
// not to the path it was opened by: a path through it is a call relative to the descriptor (ARCHITECTURE.md,
// "Output folders that change"). Where /proc is missing, paths are used as given and callers check afterwards.

import fs from 'node:fs';
import path from 'node:path';
import { idOf, unsafeFolder } from './folder-identity.js';
import type { FolderIdentity } from './folder-identity.js';

// A held folder: `at(file)` is the path of `file` (a name in the folder) through the descriptor, or `file` itself
// when pins are unavailable (`pinned` false); `fd` the descriptor (fsync). Released (once; again is a no-op) when
// no call uses its paths any more.
export interface Pin {
  readonly fd: number;
  readonly pinned: boolean;
  at(file: string): string;
  release(): void;
}

interface Held {
  fd: number;
  base: string | undefined; // /proc/self/fd/N, or undefined where that does not lead to the directory
  uses: number; // holds not yet released
}

const held = new Map<string, Held>(); // `${dir}\0${dev:ino}` -> its descriptor
const MAX_IDLE = 64; // descriptors kept open for reuse beyond those in use
const DIR_FLAGS = fs.constants.O_RDONLY | (fs.constants.O_DIRECTORY ?? 0) | (fs.constants.O_NOFOLLOW ?? 0);
let procWorks: boolean | undefined; // learnt from the first descriptor

// Hold `folder` open: the descriptor is of the directory recorded when the folder was checked (same device and
// inode, never through a symlink in its last component), else OutputUnsafeError. One open per folder while held
// or among the last MAX_IDLE idle ones; the caller releases it once its calls through `at()` are done.
export function holdFolder(folder: FolderIdentity): Pin {
  const recorded = folder.ids[folder.ids.length - 1];
  const key = `${folder.dir}\0${recorded}`;
  let entry = held.get(key);
  if (entry === undefined) {
    entry = open(folder, recorded);
    held.set(key, entry);
    if (held.size > MAX_IDLE) closeIdle(key);
  }
  const holding = entry;
  holding.uses++;
  const { fd, base } = holding;
  let released = false;
  return {
    fd,
    pinned: base !== undefined,
    at: (file) => (base === undefined || path.resolve(path.dirname(file)) !== folder.dir ? file : `${base}/${path.basename(file)}`),
    release: () => {
      if (released) return;
      released = true;
      holding.uses--;
    },
  };
}

function open(folder: FolderIdentity, recorded: string | undefined): Held {
  let fd: number;
  try {
    fd = fs.openSync(folder.dir, DIR_FLAGS);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ENOENT') throw unsafeFolder(`${folder.dir} is gone`, 'create a file');
    if (code === 'ELOOP' || code === 'ENOTDIR') throw unsafeFolder(`${folder.dir} was replaced by a symlink`, 'create a file');
    throw error;
  }
  const id = idOf(fs.fstatSync(fd, { bigint: true }));
  // No recorded id: the folder is --out itself (a --path-pattern that names no folder), trusted as given.
  if (recorded !== undefined && id !== recorded) {
    fs.closeSync(fd);
    throw unsafeFolder(`${folder.dir} was replaced by another directory`, 'create a file');
  }
  let base: string | undefined = `/proc/self/fd/${fd}`;
  if (procWorks === undefined) {
    const through = fs.statSync(base, { bigint: true, throwIfNoEntry: false });
    procWorks = through?.isDirectory() === true && idOf(through) === id;
  }
  if (!procWorks) base = undefined;
  return { fd, base, uses: 0 };
}

// Closes the descriptors no call uses (but `keep`): nothing holds a path through them.
function closeIdle(keep: string): void {
  for (const [key, entry] of held) {
    if (key === keep || entry.uses > 0) continue;
    held.delete(key);
    fs.closeSync(entry.fd);
  }
}
