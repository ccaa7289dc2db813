// archived: an item an earlier run archived is never fetched again. Its record is looked up in the store and the
// item goes on as an `archived` unit, which the checkpoint reports (as `saved` when its event was never printed,
// else as skipped `already_archived`) with every other outcome. A per-item step (stream-chain), one lookup each.

import type { Store } from '../store/store.js';
import type { ArchivedItem, AttachmentRecord, FilteredUnit, MediaItem } from '../types.js';
import { compareSnowflakes } from '../util/snowflake.js';

export interface ArchivedOptions {
  store: Pick<Store, 'getAttachment' | 'getReference'>;
  // Files archived beyond this message id (the stored cursor) were written by an interrupted run before their
  // event was printed: they are announced (as `saved`, from the record), so a pipe sees every file once.
  announceAfter?: string | undefined;
  // During a re-walk (lib/store/walked-with.ts): files beyond announceAfter whose event an earlier run printed.
  announced?: ((item: MediaItem, record: AttachmentRecord) => boolean) | undefined;
}

// The step: an item with a saved record becomes `archived`; everything else passes unchanged.
export function findArchived(options: ArchivedOptions): (unit: FilteredUnit) => Promise<FilteredUnit | ArchivedItem> {
  return async (unit) => {
    if (unit.kind !== 'item' || unit.invalid !== undefined) return unit;
    const { own: record } = await archivedRecords(options.store, unit);
    if (record?.status !== 'saved' || !record.path || !record.sha256) return unit;
    const { announceAfter, announced } = options;
    const announce = announceAfter !== undefined && compareSnowflakes(unit.message_id, announceAfter) > 0 && announced?.(unit, record) !== true;
    return { kind: 'archived', item: unit, path: record.path, bytes: record.bytes ?? 0, sha256: record.sha256, duplicate_of: record.duplicate_of, announce };
  };
}

// What the store holds of an item's attachment (also asked by reference.ts before a download): `first`, the
// attachment's record; `own`, the record that makes this very message archived, if any: the attachment's own
// when the file came from this message, else this message's reference to it (a forward or embed of an
// attachment archived from another message). An attachment archived from another message, not yet referenced
// here, goes on to fetch, which links it (reference.ts).
export async function archivedRecords(
  store: ArchivedOptions['store'],
  item: MediaItem,
): Promise<{ first: AttachmentRecord | undefined; own: AttachmentRecord | undefined }> {
  const first = await store.getAttachment(item.attachment_id);
  if (first?.status !== 'saved') return { first, own: undefined };
  if (first.message_id === item.message_id) return { first, own: first };
  return { first, own: await store.getReference(item.attachment_id, item.message_id) };
}
