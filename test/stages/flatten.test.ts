import { once } from 'node:events';
import t from 'tap';
import type { APIMessage } from 'discord-api-types/v10';
import { flatten } from '../../lib/stages/flatten.js';
import { steps, through } from '../../lib/util/steps.js';
import type { ChannelContext, ChannelPage, MediaItem, MessageMark } from '../../lib/types.js';

const context: ChannelContext = { guild_id: '1', guild_name: 'G', channel_id: '2', channel_name: 'c' };

function message(id: string, extra: Partial<APIMessage> = {}): APIMessage {
  return {
    id,
    channel_id: '2',
    type: 0,
    content: '',
    timestamp: '2024-01-15T10:30:00.000Z',
    attachments: [],
    embeds: [],
    components: [],
    author: { id: '9', username: 'u' },
    ...extra,
  } as unknown as APIMessage;
}

function page(messages: APIMessage[]): ChannelPage {
  return { kind: 'page', context, messages };
}

function attachment(id: string, filename: string, extra: Record<string, unknown> = {}) {
  return {
    id,
    filename,
    size: 10,
    url: `https://cdn.discordapp.com/attachments/2/${id}/${filename}?ex=1&is=1&hm=ab&`,
    proxy_url: 'x',
    content_type: 'image/png',
    ...extra,
  };
}

// Runs flatten over one page holding `messages` (or over several pages).
async function collect(messages: APIMessage[] | APIMessage[][], options = {}): Promise<Array<MediaItem | MessageMark>> {
  const out: Array<MediaItem | MessageMark> = [];
  const pages = (Array.isArray(messages[0]) ? messages : [messages]) as APIMessage[][];
  async function* source() {
    for (const messages of pages) yield page(messages);
  }
  for await (const unit of through(source(), steps([flatten(options)]))) out.push(unit);
  return out;
}

t.test('a message without files becomes a mark; files become items in order with last_of_message', async (t) => {
  const units = await collect([message('10'), message('11', { attachments: [attachment('100', 'a.png'), attachment('101', 'b.png')] as never })]);
  t.same(
    units.map((u) => u.kind),
    ['mark', 'item', 'item'],
  );
  const [, first, second] = units as [MessageMark, MediaItem, MediaItem];
  t.equal(first.attachment_id, '100');
  t.equal(first.last_of_message, false);
  t.equal(second.last_of_message, true);
  t.equal(second.source, 'attachment');
});

t.test('a run of messages without files is one mark (newest id, count); each page ends its own run', async (t) => {
  const png = { attachments: [attachment('100', 'a.png')] as never };
  const units = await collect([
    [message('10'), message('11'), message('12', png), message('13'), message('14'), message('15')],
    [message('16'), message('17')],
  ]);
  t.same(
    units.map((u) => (u.kind === 'mark' ? `mark:${u.message_id}x${u.messages}` : `item:${u.message_id}`)),
    ['mark:11x2', 'item:12', 'mark:15x3', 'mark:17x2'],
  );
});

t.test('two files with the same name in one message get unique names (case-insensitive)', async (t) => {
  const units = (await collect([message('11', { attachments: [attachment('100', 'image.png'), attachment('101', 'IMAGE.png')] as never })])) as MediaItem[];
  t.equal(units[0]!.unique_name, 'image.png');
  t.equal(units[1]!.unique_name, 'IMAGE_101.png');
});

t.test('forwarded attachments live in message_snapshots', async (t) => {
  const units = (await collect([message('11', { message_snapshots: [{ message: { attachments: [attachment('200', 'fwd.jpg')] } }] } as never)])) as MediaItem[];
  t.equal(units.length, 1);
  t.equal(units[0]!.source, 'forward');
  t.equal(units[0]!.attachment_id, '200');
});

t.test('components v2 media gallery items, deduplicated against attachments', async (t) => {
  const gallery = {
    type: 12,
    items: [
      { media: { url: 'https://cdn.discordapp.com/attachments/2/300/g.png?ex=1&is=1&hm=a&', attachment_id: '300' } },
      { media: { url: 'https://cdn.discordapp.com/attachments/2/100/a.png?ex=2', attachment_id: '100' } },
    ],
  };
  const units = (await collect([
    message('11', { attachments: [attachment('100', 'a.png')], components: [{ type: 17, components: [gallery] }] } as never),
  ])) as MediaItem[];
  t.same(
    units.map((u) => [u.attachment_id, u.source]),
    [
      ['100', 'attachment'],
      ['300', 'component'],
    ],
  );
});

t.test('embeds and stickers only when asked; embed of an attachment is not fetched twice', async (t) => {
  const embeds = [
    {
      type: 'image',
      image: { url: 'https://cdn.discordapp.com/attachments/2/100/a.png?ex=1', proxy_url: 'https://media.discordapp.net/attachments/2/100/a.png' },
    },
    {
      type: 'rich',
      thumbnail: { url: 'https://example.com/pic.jpg', proxy_url: 'https://images-ext-1.discordapp.net/external/abc/https/example.com/pic.jpg' },
    },
  ];
  const msg = message('11', { attachments: [attachment('100', 'a.png')], embeds, sticker_items: [{ id: '555', name: 'wave', format_type: 1 }] } as never);
  t.equal((await collect([msg])).length, 1);
  const all = (await collect([msg], { embeds: true, stickers: true })) as MediaItem[];
  t.same(
    all.map((u) => u.source),
    ['attachment', 'embed', 'sticker'],
  );
  t.match(all[1]!.url, /^https:\/\/images-ext-1\.discordapp\.net\//, 'external embed uses proxy_url');
  t.equal(all[2]!.url, 'https://cdn.discordapp.com/stickers/555.png');
});

t.test('thread starter messages (type 21) are never double-counted', async (t) => {
  const units = await collect([message('11', { type: 21, attachments: [attachment('100', 'a.png')] } as never)]);
  t.same(
    units.map((u) => u.kind),
    ['mark'],
  );
});

t.test('malformed attachments are not fatal, and never vanish: each is an item marked invalid', async (t) => {
  const units = (await collect([
    message('11', {
      attachments: [
        null,
        { id: 5 },
        attachment('100', ''),
        { ...attachment('101', 'b.png'), url: 12345 },
        { ...attachment('102', 'c.png'), url: 'javascript:alert(1)' },
      ],
    } as never),
  ])) as MediaItem[];
  t.equal(units.length, 5, 'one item per attachment');
  t.equal(units[2]!.filename, 'attachment_100');
  t.equal(units[2]!.invalid, undefined, 'a valid attachment without a filename is fine');
  t.match(units[0]!.invalid, /not an attachment object/, 'null');
  t.match(units[1]!.invalid, /no valid id/, 'a numeric id');
  t.match(units[3]!.invalid, /url is a number, not an http\(s\) URL/, 'a url that is not a string');
  t.equal(units[3]!.attachment_id, '101', 'keeps its valid id');
  t.match(units[4]!.invalid, /javascript:/, 'a url that is not http(s)');
  t.equal(new Set(units.map((u) => u.attachment_id)).size, 5, 'distinct ids (synthetic for those without a valid one)');
});

t.test('aborted before start: the source refuses to start, nothing is flattened and the abort reaches the consumer', async (t) => {
  const controller = new AbortController();
  controller.abort(new Error('stop'));
  async function* source(): AsyncGenerator<ChannelPage> {
    controller.signal.throwIfAborted();
    yield page([message('1')]);
  }
  const out: unknown[] = [];
  await t.rejects(
    async () => {
      for await (const unit of through(source(), steps([flatten()]))) out.push(unit);
    },
    { message: 'stop' },
  );
  t.same(out, []);
});

t.test('aborted mid-flight: the units of the pages before the abort arrive, then the abort', async (t) => {
  const controller = new AbortController();
  async function* source(): AsyncGenerator<ChannelPage> {
    yield page([message('1'), message('2')]);
    await once(controller.signal, 'abort'); // asked for ahead of the consumer: it waits until the consumer aborts
    controller.signal.throwIfAborted();
    yield page([message('3')]);
  }
  const out: string[] = [];
  await t.rejects(
    async () => {
      for await (const unit of through(source(), steps([flatten()]))) {
        out.push(unit.message_id);
        controller.abort(new Error('stop'));
      }
    },
    { message: 'stop' },
  );
  t.same(out, ['2'], 'the first page (one mark), nothing of the page after the abort');
});

t.test('a consumer that stops early closes the source', async (t) => {
  let pages = 0;
  let onClosed: () => void = () => undefined;
  const closed = new Promise<void>((resolve) => (onClosed = resolve));
  async function* source(): AsyncGenerator<ChannelPage> {
    try {
      for (let i = 1; ; i++) {
        pages++;
        yield page([message(String(i), { attachments: [attachment(String(100 + i), 'a.png')] as never })]);
      }
    } finally {
      onClosed();
    }
  }
  for await (const unit of through(source(), steps([flatten()]))) if (unit.message_id === '3') break;
  await closed; // never resolves (the test times out) if the source is left open
  t.ok(pages < 1000, 'the endless source was not drained');
});
