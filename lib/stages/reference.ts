// (inside fetch, before any download) An attachment that is already archived, seen again from another message:
// a forward's `message_snapshots` copy, an embed of an uploaded file. Nothing is downloaded: the message gets a
// hard link to the first copy at its own path (its own folder and name pattern, a claim like any file), recorded
// as a reference beside the attachment's record, which stays the first one (ARCHITECTURE.md, "Each file once").

import { dirname } from 'node:path';
import { ensureDirInside, fileMatches, linkReference } from '../fs/atomic-write.js';
import { referenceKey } from '../store/store.js';
import type { SavedRecord } from '../store/store.js';
import type { MediaItem, SavedResult, SkippedItem } from '../types.js';
import { archivedRecords } from './archived.js';
import { claimPath } from './claim-path.js';
import type { Claim } from './claim-path.js';
import { stampPostTime } from './dedupe.js';
import { recordReference } from './record.js';
import type { WriteOptions } from './write.js';

// What the store knows of an item's attachment id, decided before downloading: `download` (unknown, failed, or
// its first copy is no longer intact), `skip` (this very message's file is archived), or a reference result.
export async function resolveKnown(item: MediaItem, options: WriteOptions): Promise<SavedResult | SkippedItem | 'download'> {
  const { first, own } = await archivedRecords(options.store, item);
  if (first?.status !== 'saved' || first.path === undefined || first.sha256 === undefined || first.bytes === undefined) return 'download';
  if (own?.status === 'saved') return { kind: 'skipped', item, reason: 'already_archived' }; // this very message's file
  // Linking to a file whose bytes changed would announce bytes that are not there: download it instead.
  if (!(await fileMatches(first.path, first.bytes, first.sha256, options.signal))) return 'download';
  return reference(item, first as SavedRecord, options);
}

async function reference(item: MediaItem, first: SavedRecord, options: WriteOptions): Promise<SavedResult> {
  const owner = referenceKey(item.attachment_id, item.message_id);
  let claimed: Claim | undefined;
  try {
    let savedPath: string | undefined;
    while (savedPath === undefined) {
      const next: Claim = await claimPath(item, options, claimed === undefined ? 0 : claimed.n + 1, owner);
      if (claimed !== undefined) options.store.releaseClaim(claimed.path, owner);
      claimed = next;
      const folder = await ensureDirInside(options.out, dirname(next.path), options.folders);
      const linked = await linkReference(first.path, next.path, folder);
      if (linked === 'linked') {
        savedPath = next.path;
        // The inode's times become this post's when it is earlier (dedupe.ts stampPostTime), under the hash's lock.
        await options.locks.run(`sha256:${first.sha256}`, () => stampPostTime(item, next.path, options, true));
      } else if (linked === 'referenced') savedPath = first.path; // no hard links here: the record points at the first copy
    }
    const result: SavedResult = { kind: 'saved', item, path: savedPath, bytes: first.bytes ?? 0, sha256: first.sha256, duplicate_of: first.path };
    return await recordReference(options.store, result, first);
  } finally {
    if (claimed !== undefined) options.store.releaseClaim(claimed.path, owner);
  }
}
