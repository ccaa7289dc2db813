// The selection by author, size, dimensions and spoiler in the filter a channel was walked with
// (lib/store/walked-with.ts): checked against every pair of a set of selections over a universe of files. A
// record's widening must be sound (nothing reported: the new run selects no file the record did not) and
// complete (something reported: there is such a file), and intersect must select exactly what both select.

import t from 'tap';
import { filter } from '../../lib/stages/filter.js';
import { intersect, walkFilterOf, widening } from '../../lib/store/walked-with.js';
import type { Selection } from '../../lib/store/walked-with.js';
import type { MediaItem, WalkFilter } from '../../lib/types.js';

interface File {
  author: string;
  bot: boolean;
  size: number | undefined;
  width: number | undefined;
  height: number | undefined;
  spoiler: boolean;
}

// Every file a channel could hold. A record knows ids, not which of them are bots, so each author appears both as a
// person and as a bot (the union of every possible world: widening is sound in each, and complete if it names
// more only when some world has more); Z is an author no selection names.
const universe: File[] = [];
for (const author of ['A', 'B', 'C', 'X', 'Z'])
  for (const bot of [false, true])
    for (const size of [50, 500, 5000, undefined])
      for (const width of [100, 700, 1000, undefined])
        for (const height of [100, 700, 1000, undefined]) for (const spoiler of [false, true]) universe.push({ author, bot, size, width, height, spoiler });

type Select = Omit<Selection, 'types' | 'maxSize' | 'embeds' | 'stickers'>;
const set = (...ids: string[]) => new Set(ids);
const selections: Select[] = [
  {},
  { authors: set('A') },
  { authors: set('A', 'B') },
  { authors: set('B', 'C') },
  { authors: set('X') },
  { authors: set('A', 'B'), excludeAuthors: set('B') },
  { excludeAuthors: set('A') },
  { excludeAuthors: set('A', 'B') },
  { excludeAuthors: set('C', 'X') },
  { excludeBots: true },
  { authors: set('A', 'X'), excludeBots: true },
  { excludeAuthors: set('A'), excludeBots: true },
  { minSize: 500 },
  { minSize: 5000 },
  { minSize: 0 },
  { minWidth: 500 },
  { minWidth: 1000 },
  { minHeight: 500 },
  { minWidth: 1000, minHeight: 1000 },
  { spoilers: 'include' },
  { spoilers: 'exclude' },
  { spoilers: 'only' },
  { authors: set('A'), minSize: 500, spoilers: 'exclude' },
  { excludeAuthors: set('B'), minWidth: 500, spoilers: 'only', excludeBots: true },
];
const base = { types: 'all', maxSize: undefined, embeds: false, stickers: false } as const;
const recordOf = (s: Select): WalkFilter => walkFilterOf({ ...base, ...s });
const name = (s: Select) => JSON.stringify(s, (_, v: unknown) => (v instanceof Set ? [...v] : v));

function item(file: File): MediaItem {
  return {
    kind: 'item',
    context: { guild_id: '1', guild_name: 'G', channel_id: '2', channel_name: 'c' },
    message_id: '10',
    timestamp: '2024-01-15T10:30:00.000Z',
    author_id: file.author,
    author_name: undefined,
    message: { edited_timestamp: null, author_display_name: undefined, author_bot: file.bot, content: '' },
    attachment_id: '100',
    filename: 'a.png',
    size: file.size,
    content_type: 'image/png',
    url: 'https://cdn.discordapp.com/x',
    source: 'attachment',
    width: file.width,
    height: file.height,
    spoiler: file.spoiler,
    index: 0,
    last_of_message: true,
    unique_name: 'a.png',
  };
}

// What a stored record promises: the files it selects.
function selects(f: WalkFilter, file: File): boolean {
  if (f.authors !== undefined && !f.authors.includes(file.author)) return false;
  if (f.exclude_authors?.includes(file.author)) return false;
  if (f.exclude_bots === true && file.bot) return false;
  if (f.min_size !== undefined && file.size !== undefined && file.size < f.min_size) return false;
  if (f.min_width !== undefined && file.width !== undefined && file.width < f.min_width) return false;
  if (f.min_height !== undefined && file.height !== undefined && file.height < f.min_height) return false;
  if (f.spoilers === 'none') return false;
  if (f.spoilers === 'exclude' && file.spoiler) return false;
  if (f.spoilers === 'only' && !file.spoiler) return false;
  return true;
}
const selected = (f: WalkFilter) => universe.filter((file) => selects(f, file));

t.test('the record of a selection selects exactly the files the filter stage keeps', async (t) => {
  for (const s of selections) {
    const step = filter({ types: 'all', ...s });
    const kept = universe.filter((file) => step(item(file)).kind === 'item');
    t.same(selected(recordOf(s)), kept, name(s));
  }
});

t.test('widening: sound and complete for every pair of selections', async (t) => {
  let pairs = 0;
  for (const r of selections) {
    for (const n of selections) {
      const more = widening(recordOf(r), recordOf(n));
      const had = new Set(selected(recordOf(r)));
      const extra = selected(recordOf(n)).filter((file) => !had.has(file));
      if ((more.length === 0) !== (extra.length === 0)) t.fail(`${name(r)} then ${name(n)}: ${JSON.stringify(more)} but ${extra.length} more files`);
      pairs++;
    }
  }
  t.equal(pairs, selections.length ** 2);
});

t.test('intersect selects exactly what both select, and widening from it stays sound', async (t) => {
  for (const r of selections) {
    for (const n of selections) {
      const both = intersect(recordOf(r), recordOf(n));
      const expected = selected(recordOf(r)).filter((file) => selects(recordOf(n), file));
      const got = selected(both);
      if (got.length !== expected.length || got.some((file, i) => file !== expected[i])) t.fail(`${name(r)} ∩ ${name(n)}: ${JSON.stringify(both)}`);
      for (const x of selections) {
        if (widening(both, recordOf(x)).length > 0) continue;
        const had = new Set(got);
        if (selected(recordOf(x)).some((file) => !had.has(file))) t.fail(`after ${name(r)} ∩ ${name(n)}, ${name(x)} selects more unseen`);
      }
    }
  }
  t.pass('checked');
});

t.test('the messages name what the run selects more of', async (t) => {
  const w = (r: Select, n: Select) => widening(recordOf(r), recordOf(n));
  t.same(w({ authors: set('A') }, {}), ['--author removed']);
  t.same(w({ authors: set('A') }, { authors: set('A', 'B') }), ['--author B']);
  t.same(w({ excludeAuthors: set('A', 'B') }, { excludeAuthors: set('B') }), ['--exclude-author A removed']);
  t.same(w({ excludeAuthors: set('A') }, { authors: set('A') }), ['--exclude-author A removed']);
  t.same(w({ excludeBots: true }, {}), ['--exclude-bots removed']);
  t.same(w({ minSize: 5000 }, { minSize: 500 }), ['--min-size 500 bytes']);
  t.same(w({ minSize: 5000 }, {}), ['--min-size removed']);
  t.same(w({ minWidth: 1000 }, { minWidth: 500 }), ['--min-width 500 px']);
  t.same(w({ minHeight: 1000 }, {}), ['--min-height removed']);
  t.same(w({ spoilers: 'exclude' }, {}), ['--spoilers include']);
  t.same(w({ spoilers: 'only' }, { spoilers: 'exclude' }), ['--spoilers exclude']);
  t.same(w({ spoilers: 'exclude' }, { spoilers: 'only' }), ['--spoilers only']);
});

t.test('a record without the new fields reads as no such filter', async (t) => {
  const legacy: WalkFilter = { types: 'all', max_size: null, embeds: false, stickers: false };
  t.same(recordOf({}), legacy, 'a run without the new flags records what an older dps did');
  t.same(recordOf({ spoilers: 'include', minSize: 0, excludeBots: false, excludeAuthors: set() }), legacy, 'nor do flags that select everything');
  t.same(selected(legacy), universe, 'it selects every author, size and spoiler');
  for (const s of selections) t.same(widening(legacy, recordOf(s)), [], `${name(s)} selects no more than it`);
  t.same(widening(recordOf({ minSize: 500 }), legacy), ['--min-size removed'], 'and it selects more than any of them');
  t.same(intersect(legacy, recordOf({ authors: set('B', 'A') })), { ...legacy, authors: ['A', 'B'] }, 'the ids are stored sorted');
});
