// (fetch's write step) One download body -> a file at the path this attachment claimed (claim-path.ts), hashed,
// size-checked and fsynced on the way, and never renamed over another file: a name found taken moves the claim,
// and the written file, to the next candidate. Linking and recording the file is the next step (dedupe.ts).

import { dirname } from 'node:path';
import { DownloadError } from '../errors.js';
import type { FolderCache } from '../fs/atomic-write.js';
import type { DiskThread } from '../fs/disk-thread.js';
import { postTimeMs } from '../fs/file-times.js';
import type { MediaItem } from '../types.js';
import type { KeyedLock } from '../util/keyed-lock.js';
import { moveClaim } from './claim-path.js';
import { sidecarHead, sidecarOwner } from './metadata-fields.js';
import type { Claim, NamingOptions } from './claim-path.js';

export interface WriteOptions extends NamingOptions {
  signal?: AbortSignal | undefined;
  locks: KeyedLock; // serialises dedupe decisions per sha256 across concurrent downloads
  folders?: FolderCache | undefined; // folders checked during this run
  onReceived?: (() => void) | undefined; // the body has been read to its end (see DiskThread.writeFile)
  disk: DiskThread; // hashes, writes, fsyncs and renames the files, off the main thread (one per run)
  // A saved file's atime and mtime are its message's post time (--mtime, the run's default; file-times.ts);
  // false or undefined: the time it was written.
  mtime?: boolean | undefined;
  // --write-metadata (file mode, a folder --out): each file's sidecar is written with it (see sidecarFor).
  sidecars?: boolean | undefined;
  // Sidecars linked without an fsync each, made durable together by the run (lib/run-sidecars.ts); undefined:
  // each sidecar is fsynced before its link.
  sidecarSync?: DeferredSidecars | undefined;
}

// What write needs of the run's deferred sidecars (lib/run-sidecars.ts SidecarSync).
export interface DeferredSidecars {
  device(): string | undefined; // the archive root's device: sidecars in folders on it go without their own fsync
  linked(): void; // one more sidecar linked so (a periodic syncfs may be due)
}

// A complete file in place at `path` (the claim's path once written), not yet recorded.
export interface WrittenFile {
  path: string;
  sha256: string;
  bytes: number;
  sidecar?: true; // its sidecar is durable at `<path>.json` (WriteOptions.sidecars)
}

// Writes one body to the claimed path (moving the claim past names found taken); throws on a size mismatch or
// an I/O error. The caller holds the claim and releases it.
export async function writeItem(
  item: MediaItem,
  body: AsyncIterable<Uint8Array>,
  claim: Claim,
  options: WriteOptions,
  expectedSize?: number,
): Promise<WrittenFile> {
  if (item.size !== undefined && expectedSize !== undefined && item.size !== expectedSize) {
    // One of the two is wrong whatever arrives (a truncated or replaced object): retried, never stored.
    throw new DownloadError(`size mismatch: Content-Length said ${expectedSize} bytes, the attachment ${item.size}`, {
      retryable: true,
      reason: 'size_mismatch',
    });
  }
  // Straight to the final name (one request to the disk thread), checked against the one size there is.
  const { disk } = options;
  let file = await disk.writeFile(dirname(claim.path), body, claim.path, {
    expectedSize: item.size ?? expectedSize,
    signal: options.signal,
    root: options.out,
    folders: options.folders,
    onReceived: options.onReceived,
    mtimeMs: options.mtime === true ? postTimeMs(item.timestamp) : undefined,
    sidecarHead: options.sidecars === true ? await sidecarFor(item, claim, options) : undefined,
    sidecarDevice: options.sidecarSync?.device(),
  });
  if (file.sidecar === true) options.sidecarSync?.linked();
  // A file the state does not know holds the name (never replaced): the same temp file, the next candidate.
  while (file.taken !== undefined) {
    const temp = file.taken;
    try {
      await moveClaim(item, claim, options); // the claim must not vouch for that file
    } catch (error) {
      await disk.discardTemp(temp).catch(() => undefined);
      throw error;
    }
    const folder = await options.folders?.get(dirname(claim.path))?.catch(() => undefined); // re-checked around the commit
    const placed = await disk.commitTemp(temp, claim.path, file.sha256, folder);
    file = { sha256: file.sha256, bytes: file.bytes, ...(placed === 'taken' ? { taken: temp } : {}) };
  }
  return { path: claim.path, sha256: file.sha256, bytes: file.bytes, ...(file.sidecar === true ? { sidecar: true } : {}) };
}

// The head of the file's sidecar (metadata-fields.ts) for the disk thread to write with the file, unless another
// file of the archive claims `<path>.json` (an attachment literally named so): then, and whenever the disk
// thread cannot link it, the metadata stage writes it its own way (lib/stages/metadata.ts), which claims the
// name and refuses it there. The file's claim vouches for the sidecar's name without a claim of
// its own: nothing is written to the state for it, and its link never replaces a file, so an attachment that
// claims the name meanwhile finds it taken and moves to its next candidate (claim-path.ts).
async function sidecarFor(item: MediaItem, claim: Claim, options: WriteOptions): Promise<string | undefined> {
  const holder = await options.store.claimOf(`${claim.path}.json`);
  if (holder !== undefined && holder !== sidecarOwner(item)) return undefined;
  return sidecarHead(item);
}
