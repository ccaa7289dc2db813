// The selection by author, size, dimensions and spoiler (lib/stages/filter.ts): each flag as a table of items
// and what becomes of them. Files without dimensions or size pass the minimums; --spoilers only keeps spoilers.

import t from 'tap';
import { filter } from '../../lib/stages/filter.js';
import type { FilterOptions } from '../../lib/stages/filter.js';
import type { MediaItem } from '../../lib/types.js';

function item(extra: Partial<MediaItem> & { bot?: boolean } = {}): MediaItem {
  const { bot = false, ...rest } = extra;
  return {
    kind: 'item',
    context: { guild_id: '1', guild_name: 'G', channel_id: '2', channel_name: 'c' },
    message_id: '10',
    timestamp: '2024-01-15T10:30:00.000Z',
    author_id: '500',
    author_name: 'someone',
    message: { edited_timestamp: null, author_display_name: undefined, author_bot: bot, content: '' },
    attachment_id: '100',
    filename: 'a.png',
    size: 1000,
    content_type: 'image/png',
    url: 'https://cdn.discordapp.com/x',
    source: 'attachment',
    width: 800,
    height: 600,
    index: 0,
    last_of_message: true,
    unique_name: 'a.png',
    ...rest,
  };
}

// What the filter makes of an item: 'kept', or 'reason: detail'.
function verdict(options: Omit<FilterOptions, 'types'>, unit: MediaItem): string {
  const out = filter({ types: 'all', ...options })(unit);
  return out.kind === 'skipped' ? `${out.reason}: ${out.detail}` : 'kept';
}

const cases: Array<[string, Omit<FilterOptions, 'types'>, MediaItem, string]> = [
  ['no selection keeps everything', {}, item({ bot: true, spoiler: true, size: 1 }), 'kept'],
  ['--author keeps its author', { authors: new Set(['500', '501']) }, item(), 'kept'],
  ['--author drops another', { authors: new Set(['501']) }, item(), 'author: posted by 500, not an --author'],
  ['--author drops an unknown author', { authors: new Set(['501']) }, item({ author_id: undefined }), 'author: posted by unknown, not an --author'],
  ['--exclude-author drops its author', { excludeAuthors: new Set(['500']) }, item(), 'author: posted by 500 (--exclude-author)'],
  ['--exclude-author keeps another', { excludeAuthors: new Set(['501']) }, item(), 'kept'],
  ['--exclude-author keeps an unknown author', { excludeAuthors: new Set(['501']) }, item({ author_id: undefined }), 'kept'],
  ['--exclude-author wins over --author', { authors: new Set(['500']), excludeAuthors: new Set(['500']) }, item(), 'author: posted by 500 (--exclude-author)'],
  ['--exclude-bots drops a bot', { excludeBots: true }, item({ bot: true }), 'author: posted by a bot or webhook, 500 (--exclude-bots)'],
  ['--exclude-bots keeps a person', { excludeBots: true }, item(), 'kept'],
  ['--min-size drops a smaller file', { minSize: 1001 }, item(), 'too_small: 1000 bytes < --min-size 1001'],
  ['--min-size keeps an equal file', { minSize: 1000 }, item(), 'kept'],
  ['--min-size keeps a file of unknown size', { minSize: 1001 }, item({ size: undefined }), 'kept'],
  ['--min-width drops a narrower image', { minWidth: 801 }, item(), 'too_small: 800 px wide < --min-width 801'],
  ['--min-width keeps an equal width', { minWidth: 800 }, item(), 'kept'],
  ['--min-width keeps a file without dimensions', { minWidth: 5000 }, item({ width: undefined, height: undefined }), 'kept'],
  ['--min-height drops a lower image', { minHeight: 601 }, item(), 'too_small: 600 px high < --min-height 601'],
  ['--min-height keeps a file without dimensions', { minHeight: 5000 }, item({ width: undefined, height: undefined }), 'kept'],
  ['--spoilers include keeps a spoiler', { spoilers: 'include' }, item({ spoiler: true }), 'kept'],
  ['--spoilers exclude drops a spoiler', { spoilers: 'exclude' }, item({ spoiler: true }), 'spoiler: a spoiler (--spoilers exclude)'],
  ['--spoilers exclude keeps a plain file', { spoilers: 'exclude' }, item({ spoiler: false }), 'kept'],
  ['--spoilers exclude keeps a file without the flag', { spoilers: 'exclude' }, item({ spoiler: undefined }), 'kept'],
  ['--spoilers only keeps a spoiler', { spoilers: 'only' }, item({ spoiler: true }), 'kept'],
  ['--spoilers only drops a plain file', { spoilers: 'only' }, item({ spoiler: false }), 'spoiler: not a spoiler (--spoilers only)'],
  ['--spoilers only drops a file without the flag', { spoilers: 'only' }, item({ spoiler: undefined }), 'spoiler: not a spoiler (--spoilers only)'],
  ['--max-size still applies with a minimum', { minSize: 10, maxSize: 999 }, item(), 'too_large: 1000 bytes > 999'],
  ['an invalid attachment passes to be reported failed', { authors: new Set(['501']) }, item({ invalid: 'no url' }), 'kept'],
];

t.test('each selecting flag, item by item', async (t) => {
  for (const [name, options, unit, expected] of cases) t.equal(verdict(options, unit), expected, name);
});

t.test('--types is judged first, and marks pass whatever the selection', async (t) => {
  const step = filter({ types: new Set(['jpg']), authors: new Set(['501']), minSize: 5000 });
  const out = step(item());
  t.equal(out.kind === 'skipped' && out.reason, 'type');
  const mark = { kind: 'mark' as const, context: item().context, message_id: '11', messages: 1 };
  t.equal(step(mark), mark);
});
