// Stage 5 (runs inside fetch's concurrency): one download body -> a file under --out. Streams into a temp
// file while hashing, checks the byte count, fsyncs, then links it under the name this attachment claimed,
// never over another file (a taken name moves it to the next candidate) -- and when the same bytes are
// already archived, the first copy is hard-linked in its place instead of storing them twice.

import { dirname } from 'node:path';
import { rm } from 'node:fs/promises';
import { DownloadError } from '../errors.js';
import { fileMatches, linkDuplicate } from '../fs/atomic-write.js';
import type { FolderCache } from '../fs/atomic-write.js';
import { inProcessDisk } from '../fs/atomic-write.js';
import type { Disk, WrittenFile } from '../fs/atomic-write.js';
import { folderName, nameVars, renderName, resolveInside, suffixName } from '../fs/safe-name.js';
import type { Store } from '../store/store.js';
import type { SavedRecord } from '../store/state.js';
import type { ChannelContext, MediaItem, SavedResult } from '../types.js';
import type { KeyedLock } from '../util/keyed-lock.js';

export interface WriteOptions {
  out: string; // absolute --out
  namePattern: string;
  store: Store;
  signal?: AbortSignal | undefined;
  locks: KeyedLock; // serialises dedupe decisions per sha256 across concurrent downloads
  folders?: FolderCache | undefined; // folders checked during this run
  onReceived?: (() => void) | undefined; // the body has been read to its end (see writeTemp)
  disk?: Disk | undefined; // where bytes are hashed and written: a DiskThread, or this thread (the default)
}

// Folders already worked out, per channel context (one object per channel for a whole run) and output root.
const folders = new WeakMap<ChannelContext, { out: string; folder: string }>();

// The folder of an item: <out>/<Server>_<id>/<Channel>_<id>[/threads/<Thread>_<id>].
export function itemFolder(out: string, item: MediaItem): string {
  const { context } = item;
  const known = folders.get(context);
  if (known?.out === out) return known.folder;
  const folder = folderOf(out, context);
  folders.set(context, { out, folder });
  return folder;
}

function folderOf(out: string, context: ChannelContext): string {
  const parts = [folderName(context.guild_name, context.guild_id)];
  if (context.parent_id) parts.push(folderName(context.parent_name ?? 'channel', context.parent_id), 'threads');
  parts.push(folderName(context.channel_name, context.channel_id));
  return resolveInside(out, ...parts);
}

// How many names an item tries before it gives up (the id, then a counter: only hostile folders get far).
const MAX_CANDIDATES = 1000;

// Candidate n of a rendered name: the name itself, then the attachment id before its extension, then a
// counter after the id. Applied to the final, sanitised and length-cut name, so the suffix always survives.
export function candidateName(rendered: string, attachmentId: string, n: number): string {
  if (n === 0) return rendered;
  return suffixName(rendered, n === 1 ? `_${attachmentId}` : `_${attachmentId}_${n}`);
}

// The first candidate path from `from` on that `owner` (an attachment id, or a reference key) can claim in the
// store: a path is only ever written by the holder of its claim. Whatever the name pattern, two attachments
// never share a path (claims compare case-folded, normalised paths: see pathKey in store/state.ts). An
// attachment's own claim is persisted at once (batched), before its download: see Store.claimPath.
export async function itemPath(item: MediaItem, options: Pick<WriteOptions, 'out' | 'namePattern' | 'store'>, from = 0, owner = item.attachment_id): Promise<{ path: string; n: number }> {
  const folder = itemFolder(options.out, item);
  const rendered = renderName(options.namePattern, nameVars(item));
  for (let n = from; n < MAX_CANDIDATES; n++) {
    const path = resolveInside(folder, candidateName(rendered, item.attachment_id, n));
    if (await options.store.claimPath(path, owner, owner === item.attachment_id)) return { path, n };
  }
  throw new DownloadError(`no free file name for ${item.filename} in ${folder} after ${MAX_CANDIDATES} tries`, { retryable: false });
}

// The paths an earlier run may have given an item, unclaimed: its pattern's path, and the variant with its
// attachment id (candidate 1) that it gets when that path is another attachment's (adopt.ts looks at both).
export function candidatePaths(item: MediaItem, options: Pick<WriteOptions, 'out' | 'namePattern'>): { path: string; suffixedPath: string } {
  const folder = itemFolder(options.out, item);
  const rendered = renderName(options.namePattern, nameVars(item));
  return { path: resolveInside(folder, candidateName(rendered, item.attachment_id, 0)), suffixedPath: resolveInside(folder, candidateName(rendered, item.attachment_id, 1)) };
}

// Writes one body to its final place and records it in the store; throws on size mismatch or I/O errors.
export async function writeItem(item: MediaItem, body: AsyncIterable<Uint8Array>, options: WriteOptions, expectedSize?: number): Promise<SavedResult> {
  if (item.size !== undefined && expectedSize !== undefined && item.size !== expectedSize) {
    // One of the two is wrong whatever arrives (a truncated or replaced object): retried, never stored.
    throw Object.assign(new Error(`size mismatch: Content-Length said ${expectedSize} bytes, the attachment ${item.size}`), { sizeMismatch: true });
  }
  let { path, n } = await itemPath(item, options);
  try {
    const disk = options.disk ?? inProcessDisk;
    // Straight to the final name (one request to the disk thread), checked against the one size there is.
    let file = await disk.writeFile(dirname(path), body, path, { expectedSize: item.size ?? expectedSize, signal: options.signal, root: options.out, folders: options.folders, onReceived: options.onReceived });
    // A file the state does not know holds the name (never replaced): the same temp file, the next candidate.
    while (file.taken !== undefined) {
      const temp = file.taken;
      try {
        await options.store.dropClaim(path, item.attachment_id); // the claim must not vouch for that file
        ({ path, n } = await itemPath(item, options, n + 1));
      } catch (error) {
        await disk.discardTemp(temp).catch(() => undefined);
        throw error;
      }
      const folder = await options.folders?.get(dirname(path))?.catch(() => undefined); // re-checked around the commit
      const placed = await disk.commitTemp(temp, path, file.sha256, folder);
      file = { sha256: file.sha256, bytes: file.bytes, ...(placed === 'taken' ? { taken: temp } : {}) };
    }
    return await recordItem(item, options, path, file);
  } finally {
    options.store.releaseClaim(path, item.attachment_id); // written with the record, or no longer wanted
  }
}

// The file is at `path` (this attachment's claim): link it to an earlier copy of the same bytes, then record it.
async function recordItem(item: MediaItem, options: WriteOptions, path: string, file: WrittenFile): Promise<SavedResult> {
  // Serialised on the hash (not the path): of two downloads of the same bytes finishing together, the second
  // sees the first's hash entry (the store shows entries still waiting for their group commit) and links.
  return options.locks.run(`sha256:${file.sha256}`, async () => {
    const first = await options.store.getHash(file.sha256);
    let savedPath = path;
    let duplicateOf: string | undefined;
    let newHash = first === undefined;
    if (first && first.attachment_id !== item.attachment_id && first.path !== path) {
      if (await fileMatches(first.path, file.bytes, file.sha256, options.signal)) {
        // The same bytes are archived already: this copy becomes a hard link to the first (or, where the file
        // system has no links, is removed and the record points at the first). If that fails, the complete copy
        // stays where it is and the item is reported failed: the next run downloads it again.
        duplicateOf = first.path;
        const folder = await options.folders?.get(dirname(path))?.catch(() => undefined); // re-checked around the link
        if ((await linkDuplicate(first.path, path, folder)) === 'referenced') {
          await rm(path, { force: true });
          savedPath = first.path;
        }
      } else newHash = true; // the first copy is gone or changed: this one is the copy to link to from now on
    }
    await options.store.recordSaved(savedRecord(item, savedPath, file.sha256, file.bytes, duplicateOf), { newHash, ownsPath: savedPath === path });
    return { kind: 'saved', item, path: savedPath, bytes: file.bytes, sha256: file.sha256, duplicate_of: duplicateOf };
  });
}

// The record of an item whose bytes are at `path` (downloaded here, or re-adopted by adopt.ts).
export function savedRecord(item: MediaItem, path: string, sha256: string, bytes: number, duplicateOf: string | undefined): SavedRecord {
  return {
    attachment_id: item.attachment_id,
    guild_id: item.context.guild_id,
    channel_id: item.context.channel_id,
    message_id: item.message_id,
    filename: item.filename,
    content_type: item.content_type,
    timestamp: item.timestamp,
    source: item.source,
    status: 'saved',
    path,
    sha256,
    bytes,
    duplicate_of: duplicateOf,
    updated_at: new Date().toISOString(),
  };
}
