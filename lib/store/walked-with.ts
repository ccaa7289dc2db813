// The filter a channel's history was walked with (ChannelRecord.walked_with): what a run selects decides which
// files exist below its cursor, so a later run that selects more must walk the history again, and one that
// selects less narrows what the record can promise. Pure functions over the stored form (lib/types.ts
// WalkFilter); see README.md "Changing filters between runs".

import type { RewalkRecord, WalkFilter } from '../types.js';

// The stored form of a run's selection: --types (sorted, or 'all'), --max-size (null: none), --embeds, --stickers,
// and the selection by author, size, dimensions and spoiler, each only when it selects less than everything
// (so a run without those flags records what a dps without them did).
export function walkFilterOf(selection: Selection): WalkFilter {
  return {
    types: selection.types === 'all' ? 'all' : [...selection.types].sort(),
    max_size: selection.maxSize ?? null,
    embeds: selection.embeds,
    stickers: selection.stickers,
    ...selectionFields({
      only: selection.authors,
      except: selection.excludeAuthors ?? new Set(),
      bots: selection.excludeBots !== true,
      minSize: selection.minSize,
      minWidth: selection.minWidth,
      minHeight: selection.minHeight,
      spoilers: spoilerSet(selection.spoilers === 'include' ? undefined : selection.spoilers),
    }),
  };
}

// What a run selects, as the options hold it.
export interface Selection {
  types: ReadonlySet<string> | 'all';
  maxSize: number | undefined;
  embeds: boolean;
  stickers: boolean;
  authors?: ReadonlySet<string> | undefined; // --author (absent: every author)
  excludeAuthors?: ReadonlySet<string> | undefined; // --exclude-author
  excludeBots?: boolean | undefined;
  minSize?: number | undefined;
  minWidth?: number | undefined;
  minHeight?: number | undefined;
  spoilers?: 'include' | 'exclude' | 'only' | undefined;
}

// What `next` selects that `recorded` did not, in words (empty when `next` selects nothing more). Types are
// compared entry by entry: `image/*` does not cover `png` (a file without a content type is judged by its
// extension), so a new entry always counts as more. The other parts are compared one by one: a file is selected
// when every part selects it, so `next` selects nothing more when no part of it does.
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
  more.push(...authorsWidening(authorsOf(recorded), authorsOf(next)));
  if (recorded.exclude_bots === true && next.exclude_bots !== true) more.push('--exclude-bots removed');
  more.push(...minimumWidening('--min-size', recorded.min_size, next.min_size, ' bytes'));
  more.push(...minimumWidening('--min-width', recorded.min_width, next.min_width, ' px'));
  more.push(...minimumWidening('--min-height', recorded.min_height, next.min_height, ' px'));
  const had = spoilerSet(recorded.spoilers);
  const wants = spoilerSet(next.spoilers);
  if ((wants.plain && !had.plain) || (wants.spoiler && !had.spoiler)) more.push(`--spoilers ${next.spoilers ?? 'include'}`);
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
  const a = authorsOf(recorded);
  const b = authorsOf(next);
  let only: ReadonlySet<string> | undefined;
  if (a.only !== undefined && b.only !== undefined) only = new Set([...a.only].filter((id) => b.only?.has(id)));
  else if (a.only !== undefined) only = new Set([...a.only].filter((id) => !b.except.has(id)));
  else if (b.only !== undefined) only = new Set([...b.only].filter((id) => !a.except.has(id)));
  const had = spoilerSet(recorded.spoilers);
  const wants = spoilerSet(next.spoilers);
  return {
    types,
    max_size: sizes.length > 0 ? Math.min(...sizes) : null,
    embeds: recorded.embeds && next.embeds,
    stickers: recorded.stickers && next.stickers,
    ...selectionFields({
      only,
      except: only === undefined ? new Set([...a.except, ...b.except]) : new Set(),
      bots: recorded.exclude_bots !== true && next.exclude_bots !== true,
      minSize: larger(recorded.min_size, next.min_size),
      minWidth: larger(recorded.min_width, next.min_width),
      minHeight: larger(recorded.min_height, next.min_height),
      spoilers: { plain: had.plain && wants.plain, spoiler: had.spoiler && wants.spoiler },
    }),
  };
}

// The authors a filter selects: `only` these (absent: every author) but never those in `except`.
interface Authors {
  only: ReadonlySet<string> | undefined;
  except: ReadonlySet<string>;
}

function authorsOf(filter: WalkFilter): Authors {
  const except = new Set(filter.exclude_authors ?? []);
  if (filter.authors === undefined) return { only: undefined, except };
  return { only: new Set(filter.authors.filter((id) => !except.has(id))), except: new Set() };
}

function authorsWidening(had: Authors, wants: Authors): string[] {
  if (had.only !== undefined) {
    if (wants.only === undefined) return ['--author removed'];
    const added = [...wants.only].filter((id) => !had.only?.has(id));
    return added.length > 0 ? [`--author ${added.sort().join(',')}`] : [];
  }
  const back = [...had.except].filter((id) => (wants.only === undefined ? !wants.except.has(id) : wants.only.has(id)));
  return back.length > 0 ? [`--exclude-author ${back.sort().join(',')} removed`] : [];
}

function minimumWidening(flag: string, had: number | undefined, wants: number | undefined, unit: string): string[] {
  if (had === undefined || (wants !== undefined && wants >= had)) return [];
  return [wants === undefined ? `${flag} removed` : `${flag} ${wants}${unit}`];
}

// Which files --spoilers selects: the plain ones, the spoilers, or both (absent: include).
function spoilerSet(spoilers: WalkFilter['spoilers'] | undefined): { plain: boolean; spoiler: boolean } {
  return { plain: spoilers === undefined || spoilers === 'exclude', spoiler: spoilers === undefined || spoilers === 'only' };
}

function larger(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.max(a, b);
}

// The stored fields of the selection by author, size, dimensions and spoiler: only those that select less than
// everything, so a record without them reads as "no such filter".
function selectionFields(parts: {
  only: ReadonlySet<string> | undefined;
  except: ReadonlySet<string>;
  bots: boolean;
  minSize: number | undefined;
  minWidth: number | undefined;
  minHeight: number | undefined;
  spoilers: { plain: boolean; spoiler: boolean };
}): Partial<WalkFilter> {
  const fields: Partial<WalkFilter> = {};
  if (parts.only !== undefined) fields.authors = [...parts.only].filter((id) => !parts.except.has(id)).sort();
  else if (parts.except.size > 0) fields.exclude_authors = [...parts.except].sort();
  if (!parts.bots) fields.exclude_bots = true;
  if (parts.minSize !== undefined && parts.minSize > 0) fields.min_size = parts.minSize;
  if (parts.minWidth !== undefined && parts.minWidth > 0) fields.min_width = parts.minWidth;
  if (parts.minHeight !== undefined && parts.minHeight > 0) fields.min_height = parts.minHeight;
  const { plain, spoiler } = parts.spoilers;
  if (!(plain && spoiler)) fields.spoilers = plain ? 'exclude' : spoiler ? 'only' : 'none';
  return fields;
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
