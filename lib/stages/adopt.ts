// Before an item the state does not know is downloaded: is its file already in --out? Files under their final
// names are always complete (atomic rename), so a regular file of exactly the size Discord declares, at a path
// that is provably this attachment's, is hashed and recorded as saved (`adopted: true`), with no request.
// Provably: the state holds this attachment's claim of the path (written before the download, so a run killed
// between a rename and its record finds it: always on), or, in a recovery run (the state lost records, so its
// claims may be gone too), the path is the variant with this attachment's id, or the pattern's own path when
// the --name-pattern makes names unique per attachment. A shared name ({date}) may hold another attachment's
// file of the same size: that item is downloaded, and the no-replace commit adopts identical bytes at the name.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import { dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Store } from '../store/store.js';
import type { MediaItem, SavedResult } from '../types.js';
import { candidatePaths } from './claim-path.js';
import { recordUnderHash, stampPostTime } from './dedupe.js';
import type { WriteOptions } from './write.js';

// Per run (one Store per run) and folder: did the folder exist when the run first looked? A folder this run
// created holds only files this run wrote and recorded, so its items cost no look-up.
const seenFolders = new WeakMap<Store, Map<string, Promise<boolean>>>();

// Whether names rendered from `pattern` differ for every two attachments (before any collision suffix).
export function uniquePerAttachment(pattern: string): boolean {
  return pattern.includes('{attachment_id}') || (pattern.includes('{message_id}') && /\{(filename|name|index)\}/.test(pattern));
}

// The item's earlier file, recorded now (or undefined: download it). Only the store's own errors are thrown.
// `recovering`: the state lost records (lib/run-progress.ts), so paths it no longer knows are looked at too.
export async function adoptExisting(item: MediaItem, options: WriteOptions, recovering = false): Promise<SavedResult | undefined> {
  if (item.size === undefined || item.size <= 0) return undefined;
  const { path, suffixedPath } = candidatePaths(item, options);
  // The variant naming this attachment first: the plain path may hold a same-named attachment's file.
  for (const candidate of suffixedPath === path ? [path] : [suffixedPath, path]) {
    const claimed = (await options.store.storedClaim(candidate)) === item.attachment_id;
    if (!claimed && !(recovering && (candidate === suffixedPath || uniquePerAttachment(options.namePattern)))) continue;
    if (!claimed && !(await folderExisted(options.store, dirname(path)))) return undefined;
    const stat = await fs.lstat(candidate).catch(() => undefined);
    if (!stat?.isFile() || stat.size !== item.size) continue;
    if (!(await options.store.claimPath(candidate, item.attachment_id))) continue; // another attachment's file
    try {
      const sha256 = await hashFile(candidate, options.signal).catch(() => undefined);
      if (sha256 === undefined) continue;
      // Recorded like a download (dedupe.ts), noting the earlier copy of the same bytes, which is not linked.
      const file = { sha256, bytes: stat.size };
      const saved = await recordUnderHash(item, candidate, file, options, async (earlier) => ({ path: candidate, duplicateOf: earlier }), true);
      // Its post time, as if downloaded now; a file with other names (an earlier run linked it) only lower.
      await options.locks.run(`sha256:${sha256}`, () => stampPostTime(item, candidate, options, stat.nlink > 1));
      return saved;
    } finally {
      options.store.releaseClaim(candidate, item.attachment_id);
    }
  }
  return undefined;
}

function folderExisted(store: Store, folder: string): Promise<boolean> {
  let folders = seenFolders.get(store);
  if (folders === undefined) {
    folders = new Map();
    seenFolders.set(store, folders);
  }
  let existed = folders.get(folder);
  if (existed === undefined) {
    existed = fs.lstat(folder).then(
      (stat) => stat.isDirectory(),
      () => false,
    );
    folders.set(folder, existed);
  }
  return existed;
}

async function hashFile(file: string, signal: AbortSignal | undefined): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(
    createReadStream(file),
    async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) hash.update(chunk);
    },
    signal === undefined ? {} : { signal },
  );
  return hash.digest('hex');
}
