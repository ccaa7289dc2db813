// A JSON sidecar (`<file>.json`, --write-metadata) written like the files themselves: the bytes go to an O_EXCL
// temp file (atomic-write.ts's temp names, so a crashed run's temp is swept by removeStaleTemps), are fsynced,
// then take the final name. A final name only ever holds a complete sidecar. The name is never taken from a
// file dps did not write: the temp is linked (link fails when the name exists), and an existing file is
// replaced only when the caller vouches it is its own (its stored path claim, or its own earlier sidecar).

import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { checkFolder } from './folder-identity.js';
import type { FolderIdentity } from './folder-identity.js';
import { symlinkRefusal, tempName, translate } from './atomic-write.js';

const errorCode = (error: unknown): unknown => (error as { code?: unknown } | null)?.code;

// Where links are impossible, the sidecar is renamed into place after a check that the name is free.
const NO_LINK = new Set(['EXDEV', 'EPERM', 'EMLINK', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

export const CREATE_EXCL = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0);

export interface SidecarOptions {
  folder?: FolderIdentity | undefined; // the checked folder (atomic-write.ts), re-checked before create and link
  // An existing file at the name: may it be replaced? (Only the caller's own earlier sidecar.)
  mayReplace: (existing: string) => Promise<boolean>;
  signal?: AbortSignal | undefined;
  // Test hook: runs after the temp is written and synced, before it takes the final name.
  beforePlace?: (() => Promise<void>) | undefined;
}

// `written`: the sidecar is at `file`; `taken`: another file holds the name (left alone, nothing written).
export async function writeSidecar(file: string, text: string, options: SidecarOptions): Promise<'written' | 'taken'> {
  options.signal?.throwIfAborted();
  const temp = tempName(path.dirname(file));
  let handle: fs.FileHandle | undefined;
  try {
    if (options.folder !== undefined) checkFolder(options.folder, 'write a metadata file');
    handle = await fs.open(temp, CREATE_EXCL, 0o644);
    await handle.writeFile(text);
    await handle.datasync();
    await handle.close();
    handle = undefined;
    await options.beforePlace?.();
    if (options.folder !== undefined) checkFolder(options.folder, 'write a metadata file');
    return await place(temp, file, options);
  } catch (error) {
    throw translate(error, file, options.signal);
  } finally {
    await handle?.close().catch(() => undefined);
    await fs.rm(temp, { force: true }).catch(() => undefined);
  }
}

async function place(temp: string, file: string, options: SidecarOptions): Promise<'written' | 'taken'> {
  try {
    await fs.link(temp, file);
    return 'written';
  } catch (error) {
    const code = String(errorCode(error));
    if (code !== 'EEXIST' && !NO_LINK.has(code)) throw error;
  }
  const existing = await fs.lstat(file).catch(() => undefined);
  if (existing?.isSymbolicLink()) throw symlinkRefusal(file);
  if (existing !== undefined && (!existing.isFile() || !(await options.mayReplace(file)))) return 'taken';
  await fs.rename(temp, file);
  return 'written';
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
