// (inside fetch) One download body -> a file under --out, then dedupe.ts: the body goes straight to the name
// this attachment claimed (claim-path.ts), hashed, size-checked and fsynced on the way, and is never renamed
// over another file: a name found taken moves the written file to the next candidate.

import { dirname } from 'node:path';
import { DownloadError } from '../errors.js';
import type { FolderCache } from '../fs/atomic-write.js';
import { commitTemp, discardTemp, writeFile } from '../fs/atomic-write.js';
import type { MediaItem, SavedResult } from '../types.js';
import type { KeyedLock } from '../util/keyed-lock.js';
import { claimPath } from './claim-path.js';
import type { NamingOptions } from './claim-path.js';
import { dedupe } from './dedupe.js';

export interface WriteOptions extends NamingOptions {
  signal?: AbortSignal | undefined;
  locks: KeyedLock; // serialises dedupe decisions per sha256 across concurrent downloads
  folders?: FolderCache | undefined; // folders checked during this run
  onReceived?: (() => void) | undefined; // the body has been read to its end (see writeTemp)
}

// Writes one body to its final place and records it (dedupe.ts); throws on a size mismatch or an I/O error.
export async function writeItem(item: MediaItem, body: AsyncIterable<Uint8Array>, options: WriteOptions, expectedSize?: number): Promise<SavedResult> {
  if (item.size !== undefined && expectedSize !== undefined && item.size !== expectedSize) {
    // One of the two is wrong whatever arrives (a truncated or replaced object): retried, never stored.
    throw new DownloadError(`size mismatch: Content-Length said ${expectedSize} bytes, the attachment ${item.size}`, {
      retryable: true,
      reason: 'size_mismatch',
    });
  }
  let { path, n } = await claimPath(item, options);
  try {
    // Straight to the final name, checked against the one size there is.
    let file = await writeFile(dirname(path), body, path, {
      expectedSize: item.size ?? expectedSize,
      signal: options.signal,
      root: options.out,
      folders: options.folders,
      onReceived: options.onReceived,
    });
    // A file the state does not know holds the name (never replaced): the same temp file, the next candidate.
    while (file.taken !== undefined) {
      const temp = file.taken;
      try {
        await options.store.dropClaim(path, item.attachment_id); // the claim must not vouch for that file
        ({ path, n } = await claimPath(item, options, n + 1));
      } catch (error) {
        await discardTemp(temp).catch(() => undefined);
        throw error;
      }
      const folder = await options.folders?.get(dirname(path))?.catch(() => undefined); // re-checked around the commit
      const placed = await commitTemp(temp, path, file.sha256, folder);
      file = { sha256: file.sha256, bytes: file.bytes, ...(placed === 'taken' ? { taken: temp } : {}) };
    }
    return await dedupe(item, path, file, options);
  } finally {
    options.store.releaseClaim(path, item.attachment_id); // written with the record, or no longer wanted
  }
}
