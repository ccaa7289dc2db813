// A JSON sidecar (`<file>.json`, --write-metadata) written like the files themselves, by the run's disk thread
// (disk-thread.ts): the bytes go to an O_EXCL temp file, are fsynced, then take the final name by a link that
// fails when the name exists, and the folder is fsynced. A final name only ever holds a complete sidecar, and a
// crashed run's temp is swept by removeStaleTemps. The disk thread does all of it in one request: on the main
// thread each of those steps was a round trip through libuv's pool (bench/limits.md, "Sidecars").
// The name is never taken from a file dps did not write: an existing file is replaced only when the caller
// vouches it is its own (its stored path claim, or its own earlier sidecar), and never through a symlink.

import fs from 'node:fs/promises';
import path from 'node:path';
import type { FolderCache } from './atomic-write.js';
import { ensureDirInside, symlinkRefusal, translate } from './atomic-write.js';
import type { DiskThread } from './disk-thread.js';
import { checkFolder } from './folder-identity.js';

export interface SidecarOptions {
  disk: DiskThread; // the run's disk thread (one per run)
  root: string; // the archive root: the sidecar's folder must resolve inside it (atomic-write.ts)
  folders?: FolderCache | undefined; // the run's checked folders
  // An existing file at the name: may it be replaced? (Only the caller's own earlier sidecar.)
  mayReplace: (existing: string) => Promise<boolean>;
  signal?: AbortSignal | undefined;
}

// `written`: the sidecar is at `file`; `taken`: another file holds the name (left alone, nothing written).
export async function writeSidecar(file: string, text: string, options: SidecarOptions): Promise<'written' | 'taken'> {
  const bytes = Buffer.from(text);
  const dir = path.dirname(file);
  const { taken } = await options.disk.writeFile(dir, [bytes], file, {
    root: options.root,
    folders: options.folders,
    signal: options.signal,
    expectedSize: bytes.byteLength,
  });
  if (taken === undefined) return 'written';
  // Rare: the name exists. The complete temp replaces it only if it is a file the caller vouches for.
  try {
    const existing = await fs.lstat(file).catch(() => undefined);
    if (existing?.isSymbolicLink()) throw symlinkRefusal(file);
    if (existing !== undefined && (!existing.isFile() || !(await options.mayReplace(file)))) return 'taken';
    checkFolder(await ensureDirInside(options.root, dir, options.folders), 'write a metadata file');
    await fs.rename(taken, file);
    return 'written';
  } catch (error) {
    throw translate(error, file, options.signal);
  } finally {
    await fs.rm(taken, { force: true }).catch(() => undefined);
  }
}

// Reads a small JSON file (an existing sidecar), or undefined when it is not one.
export async function readJson(file: string): Promise<unknown> {
  try {
    const stat = await fs.lstat(file);
    if (!stat.isFile() || stat.size > 1024 * 1024) return undefined;
    return JSON.parse(await fs.readFile(file, 'utf8'));
  } catch {
    return undefined;
  }
}
