// filter: keep the items the user asked for (--types, --max-size, --min-size, --min-width, --min-height,
// --author, --exclude-author, --exclude-bots, --spoilers); the others become `skipped` with a reason.
// A per-item step (stream-chain): it only looks at the item, so it keeps no state and does no I/O.

import type { FilteredUnit, MediaItem, MessageMark, SkippedItem } from '../types.js';
import { extensionOf, matchesType } from '../util/file-types.js';
import type { FileTypes } from '../util/file-types.js';

export interface FilterOptions {
  types: FileTypes; // what to keep (lib/util/file-types.ts)
  maxSize?: number | undefined; // bytes
  minSize?: number | undefined; // bytes; a file of unknown size passes
  minWidth?: number | undefined; // pixels; a file without dimensions passes
  minHeight?: number | undefined;
  authors?: ReadonlySet<string> | undefined; // only files posted by these users
  excludeAuthors?: ReadonlySet<string> | undefined; // never files posted by these
  excludeBots?: boolean | undefined; // never files posted by bots or webhooks
  spoilers?: 'include' | 'exclude' | 'only' | undefined; // [include]
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
  return byAuthor(item, options) ?? bySpoiler(item, options) ?? bySize(item, options) ?? item;
}

function byAuthor(item: MediaItem, options: FilterOptions): SkippedItem | undefined {
  const author = item.author_id ?? 'unknown';
  if (options.authors !== undefined && (item.author_id === undefined || !options.authors.has(item.author_id))) {
    return { kind: 'skipped', item, reason: 'author', detail: `posted by ${author}, not an --author` };
  }
  if (item.author_id !== undefined && options.excludeAuthors?.has(item.author_id)) {
    return { kind: 'skipped', item, reason: 'author', detail: `posted by ${author} (--exclude-author)` };
  }
  if (options.excludeBots && item.message.author_bot) {
    return { kind: 'skipped', item, reason: 'author', detail: `posted by a bot or webhook, ${author} (--exclude-bots)` };
  }
  return undefined;
}

function bySpoiler(item: MediaItem, options: FilterOptions): SkippedItem | undefined {
  const spoiler = item.spoiler === true;
  if (options.spoilers === 'exclude' && spoiler) return { kind: 'skipped', item, reason: 'spoiler', detail: 'a spoiler (--spoilers exclude)' };
  if (options.spoilers === 'only' && !spoiler) return { kind: 'skipped', item, reason: 'spoiler', detail: 'not a spoiler (--spoilers only)' };
  return undefined;
}

function bySize(item: MediaItem, options: FilterOptions): SkippedItem | undefined {
  if (options.maxSize !== undefined && item.size !== undefined && item.size > options.maxSize) {
    return { kind: 'skipped', item, reason: 'too_large', detail: `${item.size} bytes > ${options.maxSize}` };
  }
  if (options.minSize !== undefined && item.size !== undefined && item.size < options.minSize) {
    return { kind: 'skipped', item, reason: 'too_small', detail: `${item.size} bytes < --min-size ${options.minSize}` };
  }
  if (options.minWidth !== undefined && item.width !== undefined && item.width < options.minWidth) {
    return { kind: 'skipped', item, reason: 'too_small', detail: `${item.width} px wide < --min-width ${options.minWidth}` };
  }
  if (options.minHeight !== undefined && item.height !== undefined && item.height < options.minHeight) {
    return { kind: 'skipped', item, reason: 'too_small', detail: `${item.height} px high < --min-height ${options.minHeight}` };
  }
  return undefined;
}
