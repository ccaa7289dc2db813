// The checkpoint stage: events in message order, and a message's events held until its last result, so a run stopped
// part-way through a message prints none of them (the next run announces what was saved, exactly once).
import { join } from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { OutputUnsafeError } from '../../lib/errors.js';
import { emptyCounts } from '../../lib/output/events.js';
import type { DpsEvent } from '../../lib/output/events.js';
import { checkpoint } from '../../lib/stages/checkpoint.js';
import { openStore } from '../../lib/store/open.js';
import type { ChannelContext, ItemResult, MediaItem } from '../../lib/types.js';

const context: ChannelContext = { guild_id: '1', guild_name: 'G', channel_id: '2', channel_name: 'c' };

function item(messageId: string, index: number, of: number): MediaItem {
  const id = `${messageId}${index}`;
  return {
    kind: 'item',
    context,
    message_id: messageId,
    timestamp: '2024-01-01T00:00:00.000Z',
    author_id: undefined,
    author_name: undefined,
    message: { edited_timestamp: null, author_display_name: undefined, author_bot: false, content: '' },
    attachment_id: id,
    filename: `${id}.png`,
    size: 3,
    content_type: 'image/png',
    url: `https://cdn.discordapp.com/attachments/2/${id}/${id}.png`,
    source: 'attachment',
    index,
    last_of_message: index === of - 1,
    unique_name: `${id}.png`,
  };
}

const saved = (messageId: string, index: number, of: number): ItemResult => ({
  kind: 'saved',
  item: item(messageId, index, of),
  path: `/out/${messageId}${index}.png`,
  bytes: 3,
  sha256: 'ab',
});

async function run(
  t: Test,
  results: ItemResult[],
  stopAfter?: number | Error,
): Promise<{ events: DpsEvent[]; counts: ReturnType<typeof emptyCounts>; cursor: string | undefined; error?: unknown; failed: number }> {
  const store = await openStore(join(t.testdir(), 'state'));
  const counts = emptyCounts();
  async function* source(): AsyncIterable<ItemResult> {
    for (const [i, result] of results.entries()) {
      if (i === stopAfter) throw new Error('stopped');
      if (i === 0 && stopAfter instanceof Error) throw stopAfter;
      yield result;
    }
  }
  const events: DpsEvent[] = [];
  let error: unknown;
  try {
    for await (const event of checkpoint(source(), { store, context, counts, saveCursor: true })) events.push(event);
  } catch (caught) {
    error = caught;
  }
  const cursor = (await store.getChannel('2'))?.last_message_id;
  let failed = 0;
  for await (const _ of store.failedItems()) failed++;
  await store.close();
  return { events, counts, cursor, error, failed };
}

t.test('a finished message prints its events in order and moves the cursor', async (t) => {
  const { events, counts, cursor } = await run(t, [
    saved('10', 0, 2),
    saved('10', 1, 2),
    { kind: 'mark', context, message_id: '11', messages: 1 },
    saved('12', 0, 1),
  ]);
  t.same(
    events.filter((e) => e.event === 'saved').map((e) => (e as { attachment_id: string }).attachment_id),
    ['100', '101', '120'],
  );
  t.equal(events.at(-1)?.event, 'channel_done');
  t.match(counts, { saved: 3, messages: 3, bytes: 9 });
  t.equal(cursor, '12');
});

t.test('stopped part-way through a message: none of its events, the cursor before it, the counts without it', async (t) => {
  const { events, counts, cursor, error } = await run(t, [saved('10', 0, 1), saved('20', 0, 3), saved('20', 1, 3), saved('20', 2, 3)], 3);
  t.match(error, { message: 'stopped' });
  t.same(
    events.map((e) => (e as { attachment_id?: string }).attachment_id),
    ['100'],
    'only the finished message is reported',
  );
  t.match(counts, { saved: 1, messages: 1, bytes: 3 });
  t.equal(cursor, '10', 'the cursor stays before the unfinished message, so the next run announces its saved files');
});

t.test('beforePersist runs before every cursor write, after the events up to that cursor were yielded', async (t) => {
  const store = await openStore(join(t.testdir(), 'state'));
  t.teardown(() => store.close());
  const order: string[] = [];
  const advance = store.advanceCursor.bind(store);
  store.advanceCursor = async (...args: Parameters<typeof advance>) => {
    order.push(`persist ${args[1]}`);
    return advance(...args);
  };
  async function* source(): AsyncIterable<ItemResult> {
    yield saved('10', 0, 1);
    yield saved('20', 0, 2);
    yield saved('20', 1, 2);
  }
  const options = { store, context, counts: emptyCounts(), saveCursor: true, flushEveryMs: 0, beforePersist: () => order.push('flush') };
  for await (const event of checkpoint(source(), options)) order.push(`event ${(event as { attachment_id?: string }).attachment_id ?? event.event}`);
  t.same(order, ['event 100', 'flush', 'persist 10', 'event 200', 'event 201', 'flush', 'persist 20', 'event channel_done']);
});

t.test('a failure that stops the run (an unsafe output folder): announced, then thrown; not recorded as failed', async (t) => {
  const stop = new OutputUnsafeError('output folder changed during the run: /out/c was replaced by a symlink');
  const unsafe: ItemResult = { kind: 'failed', item: item('20', 1, 2), reason: 'output_unsafe', detail: stop.message, stop };
  const { events, counts, cursor, error, failed } = await run(t, [saved('10', 0, 1), saved('20', 0, 2), unsafe, saved('30', 0, 1)]);
  t.equal(error, stop, 'the run stops with its error');
  t.same(
    events.map((e) => [e.event, (e as { attachment_id?: string }).attachment_id]),
    [
      ['saved', '100'],
      ['failed', '201'],
    ],
    'the failure is announced; the rest of its message is not',
  );
  t.match(counts, { saved: 1, failed: 1, messages: 1 });
  t.equal(cursor, '10', 'the cursor stays before its message: the next run walks it again');
  t.equal(failed, 0, 'not recorded as failed, so the next run does not fetch it twice (retry pass + walk)');
});

const failedResult = (messageId: string, index: number, of: number): ItemResult => ({
  kind: 'failed',
  item: item(messageId, index, of),
  reason: 'http_503',
  detail: 'CDN answered 503',
  status: 503,
});

t.test('failures are recorded for retry as they arrive, before the cursor moves past them', async (t) => {
  const { events, cursor, failed } = await run(t, [saved('10', 0, 1), failedResult('20', 0, 1)]);
  t.same(
    events.map((e) => e.event),
    ['saved', 'failed', 'channel_done'],
  );
  t.equal(cursor, '20');
  t.equal(failed, 1, 'queued for the retry pass');
});

t.test('aborted before start (the source stops at once): no event, no cursor, the abort thrown', async (t) => {
  const abort = new DOMException('This operation was aborted', 'AbortError');
  const { events, cursor, error, failed } = await run(t, [saved('10', 0, 1)], abort);
  t.equal(error, abort);
  t.same(events, []);
  t.equal(cursor, undefined);
  t.equal(failed, 0);
});

t.test('aborted mid-flight: what was finished is recorded and announced, the cursor saved up to it', async (t) => {
  const { events, cursor, error, failed } = await run(t, [failedResult('10', 0, 1), saved('20', 0, 1), failedResult('30', 0, 2), saved('30', 1, 2)], 3);
  t.match(error, { message: 'stopped' });
  t.same(
    events.map((e) => [e.event, (e as { attachment_id?: string }).attachment_id]),
    [
      ['failed', '100'],
      ['saved', '200'],
    ],
    'the unfinished message announces nothing',
  );
  t.equal(cursor, '20', 'saved on the way out');
  t.equal(failed, 2, 'a failure that arrived is recorded, even in the unfinished message');
});
