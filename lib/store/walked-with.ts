// The filter a channel's history was walked with (ChannelRecord.walked_with): what a run selects decides which
// files exist below its cursor, so a later run that selects more must walk the history again, and one that
// selects less narrows what the record can promise. Pure functions over the stored form; see README.md
// "Changing filters between runs".

import type { RewalkRecord, WalkFilter } from '../types.js';

// The stored form of a run's selection: --types (sorted, or 'all'), --max-size (null: none), --embeds, --stickers.
export function walkFilterOf(selection: { types: ReadonlySet<string> | 'all'; maxSize: number | undefined; embeds: boolean; stickers: boolean }): WalkFilter {
  return {
    types: selection.types === 'all' ? 'all' : [...selection.types].sort(),
    max_size: selection.maxSize ?? null,
    embeds: selection.embeds,
    stickers: selection.stickers,
  };
}

// What `next` selects that `recorded` did not, in words (empty when `next` selects nothing more). Types are
// compared entry by entry: `image/*` does not cover `png` (a file without a content type is judged by its
// extension), so a new entry always counts as more.
export function widening(recorded: WalkFilter, next: WalkFilter): string[] {
  const more: string[] = [];
  if (recorded.types !== 'all') {
    const had = new Set(recorded.types);
    if (next.types === 'all') more.push('--types all');
    else {
      const added = next.types.filter((type) => !had.has(type));
      if (added.length > 0) more.push(`--types ${added.join(',')}`);
    }
  }
  if (recorded.max_size !== null && (next.max_size === null || next.max_size > recorded.max_size)) {
    more.push(next.max_size === null ? 'no --max-size' : `--max-size ${next.max_size} bytes`);
  }
  if (next.embeds && !recorded.embeds) more.push('--embeds');
  if (next.stickers && !recorded.stickers) more.push('--stickers');
  return more;
}

// What both filters select: a walk continued with `next` promises only this for everything below its cursor.
export function intersect(recorded: WalkFilter | undefined, next: WalkFilter): WalkFilter {
  if (recorded === undefined) return next;
  let types: WalkFilter['types'];
  if (recorded.types === 'all') types = next.types;
  else if (next.types === 'all') types = recorded.types;
  else {
    const keep = new Set(next.types);
    types = recorded.types.filter((type) => keep.has(type));
  }
  const sizes = [recorded.max_size, next.max_size].filter((size): size is number => size !== null);
  return {
    types,
    max_size: sizes.length > 0 ? Math.min(...sizes) : null,
    embeds: recorded.embeds && next.embeds,
    stickers: recorded.stickers && next.stickers,
  };
}

// During a re-walk: whether an archived file's `saved` event was printed by an earlier run (it lies in what
// was announced before the re-walk began, and its record is older than the re-walk), so it is skipped as
// already archived instead of announced again.
export function announcedBefore(
  rewalk: RewalkRecord | undefined,
): ((item: { message_id: string }, record: { updated_at?: string | undefined }) => boolean) | undefined {
  if (rewalk === undefined) return undefined;
  const below = rewalk.below === undefined ? undefined : BigInt(rewalk.below);
  const above = rewalk.above === undefined ? undefined : { from: BigInt(rewalk.above.from), to: BigInt(rewalk.above.to) };
  return (item, record) => {
    if (record.updated_at !== undefined && record.updated_at >= rewalk.since) return false;
    const id = BigInt(item.message_id);
    return (below !== undefined && id <= below) || (above !== undefined && id >= above.from && id <= above.to);
  };
}
