// filter: keep the items the user asked for (--types, --max-size); the others become `skipped` with a reason.
// A per-item step (stream-chain): it only looks at the item, so it keeps no state and does no I/O.

import type { FilteredUnit, MediaItem, MessageMark } from '../types.js';
import { extensionOf, matchesType } from '../util/file-types.js';
import type { FileTypes } from '../util/file-types.js';

export interface FilterOptions {
  types: FileTypes; // what to keep (lib/util/file-types.ts)
  maxSize?: number | undefined; // bytes
}

// The step: a wanted item and every mark pass unchanged, an unwanted item becomes `skipped`.
export function filter(options: FilterOptions): (unit: MediaItem | MessageMark) => FilteredUnit {
  return (unit) => (unit.kind === 'mark' ? unit : judge(unit, options));
}

function judge(item: MediaItem, options: FilterOptions): FilteredUnit {
  if (item.invalid !== undefined) return item; // reported by fetch as failed (invalid_attachment), whatever the filter
  if (!matchesType(item, options.types)) {
    return { kind: 'skipped', item, reason: 'type', detail: item.content_type ?? extensionOf(item.filename) ?? 'unknown' };
  }
  if (options.maxSize !== undefined && item.size !== undefined && item.size > options.maxSize) {
    return { kind: 'skipped', item, reason: 'too_large', detail: `${item.size} bytes > ${options.maxSize}` };
  }
  return item;
}
