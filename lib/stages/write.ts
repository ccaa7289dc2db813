// Stage 5 (runs inside fetch's concurrency): one download body -> a file under --out. Streams into a temp
// file while hashing, checks the byte count, fsyncs, then renames atomically -- or, when the same bytes
// are already archived, hard-links the first copy instead of storing them again.

import { dirname } from 'node:path';
import { rm } from 'node:fs/promises';
import { fileMatches, linkDuplicate } from '../fs/atomic-write.js';
import type { FolderCache } from '../fs/atomic-write.js';
import { inProcessDisk } from '../fs/disk-thread.js';
import type { Disk } from '../fs/disk-thread.js';
import { folderName, nameVars, renderName, resolveInside } from '../fs/safe-name.js';
import type { Store } from '../store/store.js';
import type { MediaItem, SavedResult } from '../types.js';

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

// The folder of an item: <out>/<Server>_<id>/<Channel>_<id>[/threads/<Thread>_<id>].
export function itemFolder(out: string, item: MediaItem): string {
  const { context } = item;
  const parts = [folderName(context.guild_name, context.guild_id)];
  if (context.parent_id) parts.push(folderName(context.parent_name ?? 'channel', context.parent_id), 'threads');
  parts.push(folderName(context.channel_name, context.channel_id));
  return resolveInside(out, ...parts);
}

// The final path of an item, unique across the archive (a name claimed by another attachment gets its id),
// and whether the claim in the store is this attachment's.
export async function itemPath(item: MediaItem, options: Pick<WriteOptions, 'out' | 'namePattern' | 'store'>): Promise<{ path: string; owned: boolean }> {
  const folder = itemFolder(options.out, item);
  const vars = nameVars(item);
  const path = resolveInside(folder, renderName(options.namePattern, vars));
  if (await options.store.claimPath(path, item.attachment_id)) return { path, owned: true };
  const suffixedPath = resolveInside(folder, renderName(options.namePattern, { ...vars, filename: suffixed(vars.filename, item.attachment_id), name: `${vars.name}_${item.attachment_id}` }));
  return { path: suffixedPath, owned: await options.store.claimPath(suffixedPath, item.attachment_id) };
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
  const disk = options.disk ?? inProcessDisk;
  const temp = await disk.writeTemp(dirname(path), body, { expectedSize: item.size ?? expectedSize, signal: options.signal, root: options.out, folders: options.folders, onReceived: options.onReceived });
  let placed = false; // the temp file was renamed or removed
  try {
    if (expectedSize !== undefined && temp.bytes !== expectedSize) {
      throw Object.assign(new Error(`received ${temp.bytes} bytes, Content-Length said ${expectedSize}`), { sizeMismatch: true });
    }
    return await options.locks.run(temp.sha256, async () => {
      const first = await options.store.getHash(temp.sha256);
      let savedPath = path;
      let duplicateOf: string | undefined;
      if (first && first.attachment_id !== item.attachment_id && first.path !== path && (await fileMatches(first.path, temp.bytes))) {
        await rm(temp.tempPath, { force: true });
        placed = true;
        duplicateOf = first.path;
        if ((await linkDuplicate(first.path, path)) === 'referenced') savedPath = first.path;
      } else {
        await disk.commitTemp(temp.tempPath, path);
        placed = true;
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
        sha256: temp.sha256,
        bytes: temp.bytes,
        duplicate_of: duplicateOf,
        updated_at: new Date().toISOString(),
      }, { newHash: first === undefined, ownsPath: savedPath === path && owned });
      return { kind: 'saved', item, path: savedPath, bytes: temp.bytes, sha256: temp.sha256, duplicate_of: duplicateOf };
    });
  } finally {
    if (!placed) await rm(temp.tempPath, { force: true });
  }
}

function suffixed(filename: string, id: string): string {
  const dot = filename.lastIndexOf('.');
  return dot > 0 ? `${filename.slice(0, dot)}_${id}${filename.slice(dot)}` : `${filename}_${id}`;
}
