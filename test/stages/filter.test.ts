import t from 'tap';
import { filter, matchesType, parseTypes } from '../../lib/stages/filter.js';
import type { FilteredUnit, MediaItem, SavedResult } from '../../lib/types.js';

function item(filename: string, content_type: string | undefined, extra: Partial<MediaItem> = {}): MediaItem {
  return {
    kind: 'item',
    context: { guild_id: '1', guild_name: 'G', channel_id: '2', channel_name: 'c' },
    message_id: '10',
    timestamp: '2024-01-15T10:30:00.000Z',
    author_id: undefined,
    author_name: undefined,
    attachment_id: '100',
    filename,
    size: 1000,
    content_type,
    url: 'https://cdn.discordapp.com/x',
    source: 'attachment',
    index: 0,
    last_of_message: true,
    unique_name: filename,
    ...extra,
  };
}

const photos = parseTypes('jpg,jpeg,png,gif,webp');

t.test('content_type decides; the extension only when content_type is missing', async (t) => {
  t.ok(matchesType(item('noextension', 'image/png'), photos));
  t.ok(matchesType(item('scan.PNG.exe', 'image/png'), photos));
  t.ok(matchesType(item('photo.JPG', undefined), photos));
  t.notOk(matchesType(item('photo.png', 'application/pdf'), photos));
  t.notOk(matchesType(item('doc.pdf', undefined), photos));
  t.ok(matchesType(item('x.jpeg', 'image/jpeg; charset=binary'), parseTypes('jpg')));
  t.ok(matchesType(item('x.heic', 'image/heic'), parseTypes('image/*')));
  t.ok(matchesType(item('doc.pdf', 'application/pdf'), parseTypes('all')));
  t.equal(parseTypes(['png', ' .JPG ']) instanceof Set && [...(parseTypes(['png', ' .JPG ']) as Set<string>)].join(), 'png,jpg');
});

t.test('filter emits skipped items with reasons and passes marks', async (t) => {
  async function* source() {
    yield item('a.png', 'image/png');
    yield item('b.pdf', 'application/pdf');
    yield item('big.png', 'image/png', { size: 50_000_000 });
    yield { kind: 'mark' as const, context: item('x', undefined).context, message_id: '11', messages: 1 };
    yield item('old.png', 'image/png', { attachment_id: '999' });
  }
  const out: Array<FilteredUnit | SavedResult> = [];
  for await (const unit of filter(source(), { types: photos, maxSize: 25_000_000, archived: async (i) => (i.attachment_id === '999' ? { status: 'saved', path: '/x', sha256: 'ab' } as never : undefined) })) out.push(unit);
  t.same(out.map((u) => (u.kind === 'skipped' ? `skipped:${u.reason}` : u.kind)), ['item', 'skipped:type', 'skipped:too_large', 'mark', 'skipped:already_archived']);
});

t.test('archived files beyond the stored cursor are announced as saved, not skipped', async (t) => {
  async function* source() {
    yield item('old.png', 'image/png', { attachment_id: '1', message_id: '10' });
    yield item('new.png', 'image/png', { attachment_id: '2', message_id: '30' });
  }
  const record = { status: 'saved', path: '/out/x.png', sha256: 'ab'.repeat(32), bytes: 5 } as never;
  const out: Array<FilteredUnit | SavedResult> = [];
  for await (const unit of filter(source(), { types: photos, archived: async () => record, announceAfter: '20' })) out.push(unit);
  t.same(out.map((u) => u.kind), ['skipped', 'saved']);
  t.equal((out[1] as SavedResult).path, '/out/x.png');
});
