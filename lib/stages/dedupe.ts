// (fetch's record step, after write) Each set of bytes is stored once: a file whose sha256 is already archived
// under another path becomes a hard link to that first copy (or, where the file system has no links, is removed
// and its record points at the first), then the file is recorded as saved. adopt.ts makes the same per-hash
// decision for a file an earlier run wrote (recordUnderHash).

import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileMatches, linkDuplicate } from '../fs/atomic-write.js';
import type { FolderCache } from '../fs/atomic-write.js';
import { postTimeMs, setFileTimes } from '../fs/file-times.js';
import type { Store } from '../store/store.js';
import type { MediaItem, SavedResult } from '../types.js';
import type { KeyedLock } from '../util/keyed-lock.js';
import { recordSaved } from './record.js';

export interface DedupeOptions {
  store: Store;
  locks: KeyedLock; // serialises dedupe decisions per sha256 across concurrent downloads
  folders?: FolderCache | undefined; // folders checked during this run
  signal?: AbortSignal | undefined;
  mtime?: boolean | undefined; // file times are post times (write.ts): a link lowers its inode's to this post's
}

// A complete file at `path` (this attachment's claim): its bytes and their hash.
export interface HashedFile {
  sha256: string;
  bytes: number;
}

// Where a file ends up once compared with the first copy of its bytes (`earlier`): its path, the copy it
// duplicates, and whether the first copy turned out gone or changed (this one is the copy to link to from now on).
export interface Placement {
  path: string;
  duplicateOf?: string | undefined;
  stale?: boolean;
}

// The file is complete at `path` (this attachment's claim): linked to an earlier copy of the same bytes, then
// recorded.
export async function dedupe(item: MediaItem, path: string, file: HashedFile, options: DedupeOptions): Promise<SavedResult> {
  return recordUnderHash(item, path, file, options, (earlier) => linkToEarlier(item, path, earlier, file, options));
}

// The per-hash decision every saved file goes through: serialised on the hash (not the path), so of two files
// with the same bytes finishing together, the second sees the first's hash entry (the store shows entries still
// waiting for their group commit). `place` decides what happens when another attachment's copy of these bytes
// is recorded at another path; the result is then recorded. `adopted`: an earlier run's file (adopt.ts).
export async function recordUnderHash(
  item: MediaItem,
  path: string,
  file: HashedFile,
  options: Pick<DedupeOptions, 'store' | 'locks'>,
  place: (earlier: string) => Promise<Placement>,
  adopted = false,
): Promise<SavedResult> {
  return options.locks.run(`sha256:${file.sha256}`, async () => {
    const first = await options.store.getHash(file.sha256);
    const earlier = first !== undefined && first.attachment_id !== item.attachment_id && first.path !== path ? first.path : undefined;
    const placed: Placement = earlier === undefined ? { path } : await place(earlier);
    const result: SavedResult = {
      kind: 'saved',
      item,
      path: placed.path,
      bytes: file.bytes,
      sha256: file.sha256,
      duplicate_of: placed.duplicateOf,
      ...(adopted ? { adopted: true } : {}),
    };
    return recordSaved(options.store, result, { newHash: first === undefined || placed.stale === true, ownsPath: placed.path === path });
  });
}

// A downloaded file whose bytes another attachment's file already holds: hard-linked to that first copy. If
// linking fails, the complete copy stays where it is and the item is reported failed: the next run downloads it
// again.
async function linkToEarlier(item: MediaItem, path: string, earlier: string, file: HashedFile, options: DedupeOptions): Promise<Placement> {
  if (!(await fileMatches(earlier, file.bytes, file.sha256, options.signal))) return { path, stale: true };
  const folder = await options.folders?.get(dirname(path))?.catch(() => undefined); // re-checked around the link
  if ((await linkDuplicate(earlier, path, folder)) === 'referenced') {
    await rm(path, { force: true });
    return { path: earlier, duplicateOf: earlier };
  }
  await stampPostTime(item, path, options, true);
  return { path, duplicateOf: earlier };
}

// The item's post time onto its file already in place (file-times.ts), with --mtime: exactly on a file of its
// own; on an inode other names share (`shared`: a hard link) only ever lowered, so the inode keeps the earliest
// post among its names. A missing or malformed timestamp changes nothing. The caller holds the hash's lock, so
// two names of one inode never lower it at once (one could undo the other's lower time).
export async function stampPostTime(item: MediaItem, path: string, options: { mtime?: boolean | undefined }, shared: boolean): Promise<void> {
  const ms = options.mtime === true ? postTimeMs(item.timestamp) : undefined;
  if (ms !== undefined) await setFileTimes(path, ms, shared);
}
