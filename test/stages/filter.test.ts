import { once } from 'node:events';
import t from 'tap';
import { filter } from '../../lib/stages/filter.js';
import type { FilteredUnit, MediaItem, MessageMark } from '../../lib/types.js';
import { matchesType, parseTypes } from '../../lib/util/file-types.js';
import { steps, through } from '../../lib/util/steps.js';

function item(filename: string, content_type: string | undefined, extra: Partial<MediaItem> = {}): MediaItem {
  return {
    kind: 'item',
    context: { guild_id: '1', guild_name: 'G', channel_id: '2', channel_name: 'c' },
    message_id: '10',
    timestamp: '2024-01-15T10:30:00.000Z',
    author_id: undefined,
    author_name: undefined,
    message: { edited_timestamp: null, author_display_name: undefined, author_bot: false, content: '' },
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

const mark = (message_id: string): MessageMark => ({ kind: 'mark', context: item('x', undefined).context, message_id, messages: 1 });

// Runs `units` through the filter step as the pipeline does.
async function run(units: Array<MediaItem | MessageMark>, options: Parameters<typeof filter>[0]): Promise<FilteredUnit[]> {
  async function* source(): AsyncGenerator<MediaItem | MessageMark> {
    yield* units;
  }
  const out: FilteredUnit[] = [];
  for await (const unit of through(source(), steps([filter(options)]))) out.push(unit);
  return out;
}

t.test('filter emits skipped items with reasons and passes marks and invalid items', async (t) => {
  const out = await run(
    [
      item('a.png', 'image/png'),
      item('b.pdf', 'application/pdf'),
      item('big.png', 'image/png', { size: 50_000_000 }),
      mark('11'),
      item('bad.pdf', 'application/pdf', { invalid: 'no url' }),
    ],
    { types: photos, maxSize: 25_000_000 },
  );
  t.same(
    out.map((u) => (u.kind === 'skipped' ? `skipped:${u.reason}:${u.detail}` : u.kind)),
    ['item', 'skipped:type:application/pdf', 'skipped:too_large:50000000 bytes > 25000000', 'mark', 'item'],
  );
});

t.test('a file without a content type is judged by its extension, and named by it when skipped', async (t) => {
  const out = await run([item('notes.TXT', undefined), item('photo.jpg', undefined), item('noext', undefined)], { types: photos });
  t.same(
    out.map((u) => (u.kind === 'skipped' ? u.detail : u.kind)),
    ['txt', 'item', 'unknown'],
  );
});

t.test('aborted before start: the source refuses to start and the abort reaches the consumer', async (t) => {
  const controller = new AbortController();
  controller.abort(new Error('stop'));
  async function* source(): AsyncGenerator<MediaItem> {
    controller.signal.throwIfAborted();
    yield item('a.png', 'image/png');
  }
  const out: FilteredUnit[] = [];
  await t.rejects(
    async () => {
      for await (const unit of through(source(), steps([filter({ types: photos })]))) out.push(unit);
    },
    { message: 'stop' },
  );
  t.same(out, []);
});

t.test('aborted mid-flight: the units before the abort arrive, then the abort', async (t) => {
  const controller = new AbortController();
  async function* source(): AsyncGenerator<MediaItem> {
    yield item('a.png', 'image/png');
    await once(controller.signal, 'abort'); // asked for ahead of the consumer: it waits until the consumer aborts
    controller.signal.throwIfAborted();
    yield item('b.png', 'image/png');
  }
  const out: string[] = [];
  await t.rejects(
    async () => {
      for await (const unit of through(source(), steps([filter({ types: photos })]))) {
        if (unit.kind === 'item') out.push(unit.filename);
        controller.abort(new Error('stop'));
      }
    },
    { message: 'stop' },
  );
  t.same(out, ['a.png']);
});
