// The already-archived lookup: an item whose file an earlier run saved goes on as an `archived` unit (announced
// when beyond the stored cursor and not announced before), anything else passes unchanged.

import { once } from 'node:events';
import t from 'tap';
import { findArchived } from '../../lib/stages/archived.js';
import type { ArchivedOptions } from '../../lib/stages/archived.js';
import type { ArchivedItem, AttachmentRecord, FilteredUnit, MediaItem } from '../../lib/types.js';
import { steps, through } from '../../lib/util/steps.js';

const context = { guild_id: '1', guild_name: 'G', channel_id: '2', channel_name: 'c' };

function item(attachment_id: string, message_id: string, extra: Partial<MediaItem> = {}): MediaItem {
  return {
    kind: 'item',
    context,
    message_id,
    timestamp: '2024-01-15T10:30:00.000Z',
    author_id: undefined,
    author_name: undefined,
    message: { edited_timestamp: null, author_display_name: undefined, author_bot: false, content: '' },
    attachment_id,
    filename: `${attachment_id}.png`,
    size: 5,
    content_type: 'image/png',
    url: 'https://cdn.discordapp.com/x',
    source: 'attachment',
    index: 0,
    last_of_message: true,
    unique_name: `${attachment_id}.png`,
    ...extra,
  };
}

function record(attachment_id: string, message_id: string, extra: Partial<AttachmentRecord> = {}): AttachmentRecord {
  return {
    attachment_id,
    guild_id: '1',
    channel_id: '2',
    message_id,
    filename: `${attachment_id}.png`,
    content_type: 'image/png',
    timestamp: '2024-01-15T10:30:00.000Z',
    source: 'attachment',
    status: 'saved',
    path: `/out/${attachment_id}.png`,
    sha256: 'ab'.repeat(32),
    bytes: 5,
    updated_at: '2024-01-15T10:30:00.000Z',
    ...extra,
  };
}

// A store holding `records` (by attachment id) and `references` (by attachment id and message id).
function store(records: AttachmentRecord[], references: AttachmentRecord[] = []): ArchivedOptions['store'] {
  return {
    getAttachment: async (id) => records.find((r) => r.attachment_id === id),
    getReference: async (id, messageId) => references.find((r) => r.attachment_id === id && r.message_id === messageId),
  };
}

async function run(units: FilteredUnit[], options: ArchivedOptions): Promise<Array<FilteredUnit | ArchivedItem>> {
  async function* source(): AsyncGenerator<FilteredUnit> {
    yield* units;
  }
  const out: Array<FilteredUnit | ArchivedItem> = [];
  for await (const unit of through(source(), steps([findArchived(options)]))) out.push(unit);
  return out;
}

const describe = (u: FilteredUnit | ArchivedItem): string => (u.kind === 'archived' ? `archived:${u.item.attachment_id}:${u.announce}` : `${u.kind}`);

t.test('saved records make archived units; failed records, unknown and invalid items pass', async (t) => {
  const records = [record('a', '10'), record('f', '10', { status: 'failed' }), record('i', '10')];
  const out = await run([item('a', '10'), item('f', '10'), item('new', '10'), item('i', '10', { invalid: 'no url' })], { store: store(records) });
  t.same(out.map(describe), ['archived:a:false', 'item', 'item', 'item']);
  const archived = out[0] as ArchivedItem;
  t.same([archived.path, archived.bytes, archived.sha256], ['/out/a.png', 5, 'ab'.repeat(32)]);
});

t.test('files archived beyond the stored cursor are announced, unless announced before', async (t) => {
  const records = [record('old', '10'), record('new', '30'), record('seen', '40')];
  const announced = (i: MediaItem): boolean => i.attachment_id === 'seen';
  const out = await run([item('old', '10'), item('new', '30'), item('seen', '40')], { store: store(records), announceAfter: '20', announced });
  t.same(out.map(describe), ['archived:old:false', 'archived:new:true', 'archived:seen:false']);
});

t.test('an attachment archived from another message counts only once this message references it', async (t) => {
  const records = [record('a', '10')];
  t.same((await run([item('a', '50')], { store: store(records) })).map(describe), ['item'], 'not referenced yet: on to fetch');
  const references = [record('a', '50')];
  t.same((await run([item('a', '50')], { store: store(records, references) })).map(describe), ['archived:a:false']);
});

t.test('aborted before start: the source refuses to start and the abort reaches the consumer', async (t) => {
  const controller = new AbortController();
  controller.abort(new Error('stop'));
  let lookups = 0;
  const counting: ArchivedOptions['store'] = {
    getAttachment: async () => {
      lookups++;
      return undefined;
    },
    getReference: async () => undefined,
  };
  async function* source(): AsyncGenerator<FilteredUnit> {
    controller.signal.throwIfAborted();
    yield item('a', '10');
  }
  await t.rejects(
    async () => {
      for await (const unit of through(source(), steps([findArchived({ store: counting })]))) void unit;
    },
    { message: 'stop' },
  );
  t.equal(lookups, 0, 'no lookup');
});

t.test('aborted mid-flight: the units before the abort arrive, then the abort', async (t) => {
  const controller = new AbortController();
  async function* source(): AsyncGenerator<FilteredUnit> {
    yield item('a', '10');
    await once(controller.signal, 'abort'); // asked for ahead of the consumer: it waits until the consumer aborts
    controller.signal.throwIfAborted();
    yield item('b', '10');
  }
  const out: string[] = [];
  await t.rejects(
    async () => {
      for await (const unit of through(source(), steps([findArchived({ store: store([]) })]))) {
        out.push(describe(unit));
        controller.abort(new Error('stop'));
      }
    },
    { message: 'stop' },
  );
  t.same(out, ['item']);
});
