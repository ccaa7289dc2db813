// Stage 3: keep the items the user asked for. Type is judged by `content_type` first and by the file
// extension only when Discord sent no content type (trap 11), so `scan.PNG.exe` sent as image/png is a photo.

import type { AttachmentRecord, FilteredUnit, MediaItem, MessageMark, SavedResult, SkippedItem } from '../types.js';

export const DEFAULT_TYPES = ['jpg', 'jpeg', 'png', 'gif', 'webp'] as const;

export interface FilterOptions {
  types: ReadonlySet<string> | 'all'; // lower-case extensions, e.g. jpg, png; 'all' keeps every file
  maxSize?: number | undefined; // bytes
  afterMs?: number | undefined; // keep messages at or after this time
  beforeMs?: number | undefined; // keep messages strictly before this time
  // The archived record of an item (looked up in the store), so nothing is ever downloaded twice.
  archived?: (item: MediaItem) => Promise<AttachmentRecord | undefined>;
  // Files archived beyond this message id were written by an interrupted run before their event was printed:
  // they are announced as `saved` (from the record) instead of skipped, so a pipe sees every file once.
  announceAfter?: string | undefined;
  // During a re-walk (lib/store/walked-with.ts): files beyond announceAfter whose event an earlier run printed.
  announced?: ((item: MediaItem, record: AttachmentRecord) => boolean) | undefined;
}

// Media types whose subtype is not the usual extension.
const SUBTYPE_EXTENSIONS: Record<string, string[]> = {
  jpeg: ['jpg', 'jpeg', 'jpe', 'jfif'],
  pjpeg: ['jpg', 'jpeg'],
  'svg+xml': ['svg'],
  'x-icon': ['ico'],
  'vnd.microsoft.icon': ['ico'],
  'x-png': ['png'],
  quicktime: ['mov'],
  'x-matroska': ['mkv'],
  mpeg: ['mpg', 'mpeg', 'mp3'],
  'x-msvideo': ['avi'],
  plain: ['txt'],
};

// Yields selected items unchanged, unwanted ones as `skipped` with a reason, and marks as they come.
export async function* filter(source: AsyncIterable<MediaItem | MessageMark>, options: FilterOptions): AsyncGenerator<FilteredUnit | SavedResult> {
  for await (const unit of source) {
    if (unit.kind === 'mark') {
      yield unit;
      continue;
    }
    const skipped = await skipReason(unit, options);
    yield skipped ?? unit;
  }
}

async function skipReason(item: MediaItem, options: FilterOptions): Promise<SkippedItem | SavedResult | undefined> {
  if (item.invalid !== undefined) return undefined; // reported by fetch as failed (invalid_attachment), whatever the filter
  if (!matchesType(item, options.types)) {
    return { kind: 'skipped', item, reason: 'type', detail: item.content_type ?? extensionOf(item.filename) ?? 'unknown' };
  }
  if (options.maxSize !== undefined && item.size !== undefined && item.size > options.maxSize) {
    return { kind: 'skipped', item, reason: 'too_large', detail: `${item.size} bytes > ${options.maxSize}` };
  }
  const at = Date.parse(item.timestamp);
  if ((options.afterMs !== undefined && at < options.afterMs) || (options.beforeMs !== undefined && at >= options.beforeMs)) {
    return { kind: 'skipped', item, reason: 'date', detail: item.timestamp };
  }
  const record = await options.archived?.(item);
  if (record?.status !== 'saved' || !record.path || !record.sha256) return undefined;
  if (options.announceAfter !== undefined && BigInt(item.message_id) > BigInt(options.announceAfter) && options.announced?.(item, record) !== true) {
    return { kind: 'saved', item, path: record.path, bytes: record.bytes ?? 0, sha256: record.sha256, duplicate_of: record.duplicate_of };
  }
  return { kind: 'skipped', item, reason: 'already_archived' };
}

// True when the item's type is one of `types`.
export function matchesType(item: Pick<MediaItem, 'content_type' | 'filename'>, types: ReadonlySet<string> | 'all'): boolean {
  if (types === 'all') return true;
  const contentType = item.content_type?.split(';')[0]?.trim().toLowerCase();
  if (contentType) {
    const [major, subtype = ''] = contentType.split('/');
    if (types.has(contentType) || (major !== undefined && types.has(`${major}/*`))) return true;
    const extensions = SUBTYPE_EXTENSIONS[subtype] ?? [subtype];
    return extensions.some((ext) => types.has(ext));
  }
  const ext = extensionOf(item.filename);
  return ext !== undefined && types.has(ext);
}

// Parses --types: "jpg,png", "image/*", or "all".
export function parseTypes(value: string | readonly string[]): ReadonlySet<string> | 'all' {
  const parts = (Array.isArray(value) ? value : [value])
    .flatMap((v: string) => v.split(','))
    .map((v) => v.trim().toLowerCase().replace(/^\./, ''))
    .filter(Boolean);
  if (parts.includes('all') || parts.includes('*')) return 'all';
  return new Set(parts);
}

function extensionOf(filename: string): string | undefined {
  const dot = filename.lastIndexOf('.');
  return dot > 0 && dot < filename.length - 1 ? filename.slice(dot + 1).toLowerCase() : undefined;
}
