// A sidecar's text is built in two parts (lib/stages/metadata-fields.ts sidecarHead, its end field by field in
// lib/fs/sidecar-text.ts): the attack is every item on which that could differ, byte for byte, from
// JSON.stringify of the whole object (the implementation before, bench/sidecar-before.ts): fields undefined (left out) or
// null, strings JSON escapes (quotes, backslashes, control characters, lone surrogates) or not (U+2028), numbers
// JSON prints differently (NaN, -0, 1e21), nested objects and arrays (indented one level deeper), a thread's
// context and a forward's source.

import t from 'tap';
import { closeSidecar } from '../../lib/fs/sidecar-text.js';
import { fileMetadata, messageMetadata, sidecarHead, sidecarText } from '../../lib/stages/metadata-fields.js';
import type { SavedFile } from '../../lib/stages/metadata-fields.js';
import type { ChannelContext, MediaItem } from '../../lib/types.js';
import { oldCloseSidecar, oldSidecarHead, oldSidecarText } from '../../bench/sidecar-before.js';
import { hostileStrings, words } from '../helpers/hostile-strings.js';

// Items whose every field is drawn from values JSON treats differently (typed loosely on purpose: a field of
// the wrong kind must print as JSON.stringify prints it too).
function generatedFiles(seed: number, count: number): SavedFile[] {
  const next = words(seed);
  const texts = hostileStrings(seed + 1, 4_000, 6);
  const text = (): string => texts[next() % texts.length]!;
  const nested = (): unknown =>
    [
      { kind: 'forward', message_id: text(), from: { channel_id: '7', note: text(), list: [1, text(), null, { deep: [] }] } },
      [text(), { a: text() }, []],
      {},
      [],
      { skipped: undefined, fn: () => 1, date: new Date(0), n: Number.NaN },
      new Date(86_400_000),
    ][next() % 6];
  const pick = (...values: Array<() => unknown>): unknown => values[next() % values.length]!();
  const any = (): unknown =>
    pick(
      () => undefined,
      () => null,
      text,
      text,
      () => next() % 100_000,
      () => [0, -0, 1.5, -2, 1e21, 2 ** 53 + 2, Number.NaN, Number.POSITIVE_INFINITY][next() % 8],
      () => next() % 2 === 0,
      nested,
    );
  const str = (): string => pick(text, text, text, any) as string;
  const files: SavedFile[] = [];
  for (let i = 0; i < count; i++) {
    const thread = next() % 3 === 0;
    const context = {
      guild_id: str(),
      guild_name: str(),
      channel_id: str(),
      channel_name: str(),
      ...(thread ? { parent_id: str(), parent_name: pick(() => undefined, text) } : next() % 4 === 0 ? { parent_id: undefined } : {}),
    } as ChannelContext;
    const item = {
      kind: 'item',
      context,
      message_id: str(),
      timestamp: str(),
      author_id: any(),
      author_name: any(),
      message: {
        edited_timestamp: pick(() => null, text, any),
        author_display_name: any(),
        author_bot: pick(
          () => true,
          () => false,
          any,
        ),
        content: str(),
      },
      attachment_id: str(),
      filename: str(),
      size: any(),
      content_type: any(),
      url: 'https://cdn.discordapp.com/x',
      source: pick(
        () => 'attachment',
        () => 'forward',
        () => 'embed',
        nested,
        any,
      ),
      ...(next() % 2 === 0 ? { width: any(), height: any() } : {}),
      ...(next() % 2 === 0 ? { description: any() } : {}),
      ...(next() % 2 === 0 ? { spoiler: pick(() => true, any) } : {}),
      index: 0,
      last_of_message: true,
      unique_name: 'x',
    } as MediaItem;
    const bytes = [0, 1, 2_110_000_000, next() % 10_000_000][next() % 4]!;
    const dup = next() % 3 === 0;
    files.push({ item, path: text(), sha256: next() % 5 === 0 ? text() : 'ab'.repeat(32), bytes, ...(dup ? { duplicate_of: str() } : {}) });
  }
  return files;
}

// A plain one, as a download has them, and a thread's (its parent names the channel).
const context: ChannelContext = { guild_id: '1', guild_name: 'Guild "G"', channel_id: '2', channel_name: 'general' };
const plain: MediaItem = {
  kind: 'item',
  context,
  message_id: '1150000000000000000',
  timestamp: '2024-01-01T00:00:00.000Z',
  author_id: '42',
  author_name: 'poster',
  message: { edited_timestamp: null, author_display_name: 'Poster', author_bot: false, content: 'text \\ "q"\n\u2028\ud800' },
  attachment_id: '3',
  filename: 'a.png',
  size: 10,
  content_type: 'image/png',
  url: 'https://cdn.discordapp.com/x',
  source: 'attachment',
  width: 4,
  height: 3,
  index: 0,
  last_of_message: true,
  unique_name: 'a.png',
};
const threaded: MediaItem = {
  ...plain,
  context: { ...context, channel_id: '5', channel_name: 'a thread', parent_id: '2', parent_name: 'general' },
  source: 'forward',
};

t.test('sidecarHead, sidecarText: byte for byte the whole object as JSON.stringify(_, null, 2) printed it', async (t) => {
  const files: SavedFile[] = [
    { item: plain, path: '/a/a.png', sha256: 'ab'.repeat(32), bytes: 10 },
    { item: threaded, path: '/a/ü "q".png', sha256: 'cd'.repeat(32), bytes: 0, duplicate_of: '/a/first.png' },
    ...generatedFiles(26, 4_000),
  ];
  let checked = 0;
  let failed = 0;
  const check = (got: string, want: string, what: string): void => {
    checked++;
    if (got === want) return;
    failed++;
    if (failed <= 5) t.equal(got, want, what);
  };
  for (const file of files) {
    const { item } = file;
    const head = sidecarHead(item);
    check(head, oldSidecarHead(item), 'the head');
    check(sidecarText(file), oldSidecarText(file), "the metadata stage's sidecar");
    check(
      sidecarText(file),
      `${JSON.stringify({ ...messageMetadata(item), ...fileMetadata(file) }, null, 2)}\n`,
      'the fields messageMetadata and fileMetadata list',
    );
    if (file.duplicate_of === undefined && typeof file.bytes === 'number' && Number.isFinite(file.bytes)) {
      check(
        closeSidecar(head, file.path, file.sha256, file.bytes),
        oldCloseSidecar(oldSidecarHead(item), file.path, file.sha256, file.bytes),
        "the disk thread's",
      );
    }
  }
  t.equal(failed, 0, `${checked} texts, none different`);
  t.ok(
    files.some((f) => f.item.context.parent_id !== undefined) && files.some((f) => typeof f.item.source === 'object'),
    'threads and nested sources among them',
  );
});
