// Stage 5 (runs inside fetch's concurrency): one download body -> a file under --out. Streams into a temp
// file while hashing, checks the byte count, fsyncs, then renames atomically -- and when the same bytes are
// already archived, the first copy is hard-linked in its place instead of storing them twice.

import { dirname } from 'node:path';
import { rm } from 'node:fs/promises';
import { fileMatches, linkDuplicate } from '../fs/atomic-write.js';
import type { FolderCache } from '../fs/atomic-write.js';
import { inProcessDisk } from '../fs/disk-thread.js';
import type { Disk } from '../fs/disk-thread.js';
import { folderName, nameVars, renderName, resolveInside } from '../fs/safe-name.js';
import type { Store } from '../store/store.js';
import type { ChannelContext, MediaItem, SavedResult } from '../types.js';

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

// Runs async sections one at a time per key (two downloads with identical bytes must not both be "first").
export class KeyedLock {
  private readonly tails = new Map<string, Promise<unknown>>();

  async run<T>(key: string, section: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const current = previous.then(section, section);
    const tail = current.catch(() => undefined);
    this.tails.set(key, tail);
    try {
      return await current;
    } finally {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
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

// The final path of an item, unique across the archive (a name claimed by another attachment gets its id),
// and whether the claim in the store is this attachment's.
export async function itemPath(item: MediaItem, options: Pick<WriteOptions, 'out' | 'namePattern' | 'store'>): Promise<{ path: string; owned: boolean }> {
  const { path, suffixedPath } = candidatePaths(item, options);
  if (await options.store.claimPath(path, item.attachment_id)) return { path, owned: true };
  return { path: suffixedPath, owned: await options.store.claimPath(suffixedPath, item.attachment_id) };
}

// The paths an item can get, unclaimed: its pattern's path, and the variant with its attachment id that it gets
// when that path is another attachment's (adopt.ts looks for an earlier run's file at both).
export function candidatePaths(item: MediaItem, options: Pick<WriteOptions, 'out' | 'namePattern'>): { path: string; suffixedPath: string } {
  const folder = itemFolder(options.out, item);
  const vars = nameVars(item);
  const path = resolveInside(folder, renderName(options.namePattern, vars));
  const suffixedPath = resolveInside(folder, renderName(options.namePattern, { ...vars, filename: suffixed(vars.filename, item.attachment_id), name: `${vars.name}_${item.attachment_id}` }));
  return { path, suffixedPath };
}

// Writes one body to its final place and records it in the store; throws on size mismatch or I/O errors.
export async function writeItem(item: MediaItem, body: AsyncIterable<Uint8Array>, options: WriteOptions, expectedSize?: number): Promise<SavedResult> {
  const { path, owned } = await itemPath(item, options);
  try {
    return await placeItem(item, body, options, expectedSize, path, owned);
  } finally {
    options.store.releaseClaim(path, item.attachment_id); // written with the record, or no longer wanted
  }
}

async function placeItem(item: MediaItem, body: AsyncIterable<Uint8Array>, options: WriteOptions, expectedSize: number | undefined, path: string, owned: boolean): Promise<SavedResult> {
  if (item.size !== undefined && expectedSize !== undefined && item.size !== expectedSize) {
    // One of the two is wrong whatever arrives (a truncated or replaced object): retried, never stored.
    throw Object.assign(new Error(`size mismatch: Content-Length said ${expectedSize} bytes, the attachment ${item.size}`), { sizeMismatch: true });
  }
  const disk = options.disk ?? inProcessDisk;
  // Straight to the final name (one request to the disk thread), checked against the one size there is.
  const file = await disk.writeFile(dirname(path), body, path, { expectedSize: item.size ?? expectedSize, signal: options.signal, root: options.out, folders: options.folders, onReceived: options.onReceived });
  return options.locks.run(file.sha256, async () => {
    const first = await options.store.getHash(file.sha256);
    let savedPath = path;
    let duplicateOf: string | undefined;
    if (first && first.attachment_id !== item.attachment_id && first.path !== path && (await fileMatches(first.path, file.bytes))) {
      // The same bytes are archived already: this copy becomes a hard link to the first (or, where the file
      // system has no links, is removed and the record points at the first). If that fails, the complete copy
      // stays where it is and the item is reported failed: the next run downloads it again.
      duplicateOf = first.path;
      const folder = await options.folders?.get(dirname(path))?.catch(() => undefined); // re-checked around the link
      if ((await linkDuplicate(first.path, path, folder)) === 'referenced') {
        await rm(path, { force: true });
        savedPath = first.path;
      }
    }
    await options.store.recordSaved({
      attachment_id: item.attachment_id,
      guild_id: item.context.guild_id,
      channel_id: item.context.channel_id,
      message_id: item.message_id,
      filename: item.filename,
      content_type: item.content_type,
      timestamp: item.timestamp,
      source: item.source,
      status: 'saved',
      path: savedPath,
      sha256: file.sha256,
      bytes: file.bytes,
      duplicate_of: duplicateOf,
      updated_at: new Date().toISOString(),
    }, { newHash: first === undefined, ownsPath: savedPath === path && owned });
    return { kind: 'saved', item, path: savedPath, bytes: file.bytes, sha256: file.sha256, duplicate_of: duplicateOf };
  });
}

function suffixed(filename: string, id: string): string {
  const dot = filename.lastIndexOf('.');
  return dot > 0 ? `${filename.slice(0, dot)}_${id}${filename.slice(dot)}` : `${filename}_${id}`;
}
