// (inside fetch, after write) Each set of bytes is stored once: a file whose sha256 is already archived under
// another path becomes a hard link to that first copy (or, where the file system has no links, is removed and
// its record points at the first), then the file is recorded as saved.

import { rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileMatches, linkDuplicate } from '../fs/atomic-write.js';
import type { FolderCache } from '../fs/atomic-write.js';
import type { Store } from '../store/store.js';
import type { MediaItem, SavedResult } from '../types.js';
import type { KeyedLock } from '../util/keyed-lock.js';
import { recordSaved } from './record.js';

export interface DedupeOptions {
  store: Store;
  locks: KeyedLock; // serialises dedupe decisions per sha256 across concurrent downloads
  folders?: FolderCache | undefined; // folders checked during this run
  signal?: AbortSignal | undefined;
}

// The file is complete at `path` (this attachment's claim): linked to an earlier copy of the same bytes, then
// recorded. Serialised on the hash (not the path): of two downloads of the same bytes finishing together, the
// second sees the first's hash entry (the store shows entries still waiting for their group commit) and links.
export async function dedupe(item: MediaItem, path: string, file: { sha256: string; bytes: number }, options: DedupeOptions): Promise<SavedResult> {
  return options.locks.run(`sha256:${file.sha256}`, async () => {
    const first = await options.store.getHash(file.sha256);
    let savedPath = path;
    let duplicateOf: string | undefined;
    let newHash = first === undefined;
    if (first && first.attachment_id !== item.attachment_id && first.path !== path) {
      if (await fileMatches(first.path, file.bytes, file.sha256, options.signal)) {
        // If linking fails, the complete copy stays where it is and the item is reported failed: the next run
        // downloads it again.
        duplicateOf = first.path;
        const folder = await options.folders?.get(dirname(path))?.catch(() => undefined); // re-checked around the link
        if ((await linkDuplicate(first.path, path, folder)) === 'referenced') {
          await rm(path, { force: true });
          savedPath = first.path;
        }
      } else newHash = true; // the first copy is gone or changed: this one is the copy to link to from now on
    }
    const result: SavedResult = { kind: 'saved', item, path: savedPath, bytes: file.bytes, sha256: file.sha256, duplicate_of: duplicateOf };
    return recordSaved(options.store, result, { newHash, ownsPath: savedPath === path });
  });
}
