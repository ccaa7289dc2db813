// Outcomes -> store records (lib/stages/record.ts), on a real LevelDB: a saved file, a reference, a failure
// queued for retry with its reason code and detail, a file whose message is gone taken out of the queue. These
// are single store writes with no signal of their own (the stages that call them check theirs).

import t from 'tap';
import { recordFailure, recordReference, recordSaved } from '../../lib/stages/record.js';
import type { SavedRecord } from '../../lib/store/store.js';
import type { FailedResult, SavedResult } from '../../lib/types.js';
import { collect } from '../helpers/harness.js';
import { localItem, localWorld } from '../helpers/stage-items.js';

t.test('saved: the attachment, its hash and its path', async (t) => {
  const { store, context } = await localWorld(t);
  const item = localItem(context, '71');
  const result: SavedResult = { kind: 'saved', item, path: '/out/71.png', bytes: 3, sha256: 'aa' };
  t.equal(await recordSaved(store, result, { newHash: true, ownsPath: true }), result, 'returns the result it recorded');
  t.match(await store.getAttachment('71'), {
    status: 'saved',
    path: '/out/71.png',
    sha256: 'aa',
    bytes: 3,
    message_id: item.message_id,
    channel_id: context.channel_id,
  });
  t.match(await store.getHash('aa'), { path: '/out/71.png', attachment_id: '71' });
  t.equal(await store.storedClaim('/out/71.png'), '71');
});

t.test('a reference: beside the first record, which is untouched', async (t) => {
  const { store, context } = await localWorld(t);
  const original = localItem(context, '72');
  await recordSaved(store, { kind: 'saved', item: original, path: '/out/72.png', bytes: 3, sha256: 'bb' }, { newHash: true, ownsPath: true });
  const first = (await store.getAttachment('72')) as SavedRecord;
  const forward = localItem(context, '72', { message_id: '973', source: 'forward' });
  await recordReference(store, { kind: 'saved', item: forward, path: '/out/973_72.png', bytes: 3, sha256: 'bb', duplicate_of: '/out/72.png' }, first);
  t.match(await store.getReference('72', '973'), { status: 'saved', path: '/out/973_72.png', duplicate_of: '/out/72.png', source: 'forward' });
  t.match(await store.getAttachment('72'), { message_id: original.message_id, path: '/out/72.png' }, 'the first record stays');
});

t.test('failed: queued for retry with "reason: detail", the link and the size; gone: out of the queue', async (t) => {
  const { store, context } = await localWorld(t);
  const item = localItem(context, '74', { size: 9 });
  const failed: FailedResult = { kind: 'failed', item, reason: 'http_503', detail: 'CDN answered 503', status: 503 };
  await recordFailure(store, failed);
  t.match(await store.getAttachment('74'), { status: 'failed', reason: 'http_503: CDN answered 503', url: item.url, size: 9, unique_name: item.unique_name });
  t.same(
    (await collect(store.failedItems())).map((r) => r.attachment_id),
    ['74'],
  );
  await recordFailure(store, { kind: 'skipped', item, reason: 'deleted', detail: 'message deleted' });
  t.match(await store.getAttachment('74'), { status: 'gone', reason: 'deleted' });
  t.same(await collect(store.failedItems()), [], 'out of the retry queue');
});

t.test('other skipped results are not recorded', async (t) => {
  const { store, context } = await localWorld(t);
  await recordFailure(store, { kind: 'skipped', item: localItem(context, '75'), reason: 'too_large' });
  t.equal(await store.getAttachment('75'), undefined);
});

// Issue 23: every record kind carries its message's context.
const threadContext = {
  guild_id: '100000000000000001',
  guild_name: 'Guild, "quoted"',
  channel_id: '100000000000000009',
  channel_name: 'the thread',
  parent_id: '100000000000000002',
  parent_name: 'parent-channel',
};

function contextItem(context: Parameters<typeof localItem>[0], id: string, over: Parameters<typeof localItem>[2] = {}) {
  return localItem(context, id, {
    author_id: '555',
    author_name: 'poster',
    message: { edited_timestamp: '2024-01-02T00:00:00.000Z', author_display_name: 'Poster Name', author_bot: false, content: 'hello, "world"\nline 2 😀' },
    width: 640,
    height: 480,
    description: 'alt text',
    spoiler: true,
    ...over,
  });
}

const expectedContext = (messageId: string, channelId: string, guildName = 'Guild, "quoted"') => ({
  author_id: '555',
  author_name: 'poster',
  edited_timestamp: '2024-01-02T00:00:00.000Z',
  author_display_name: 'Poster Name',
  author_bot: false,
  content: 'hello, "world"\nline 2 😀',
  guild_name: guildName,
  width: 640,
  height: 480,
  description: 'alt text',
  spoiler: true,
  jump_url: `https://discord.com/channels/100000000000000001/${channelId}/${messageId}`,
});

t.test('metadata: saved, reference, failed and gone records carry the message context', async (t) => {
  const { store, context } = await localWorld(t);
  const item = contextItem(context, '81');
  await recordSaved(store, { kind: 'saved', item, path: '/out/81.png', bytes: 3, sha256: 'cc' }, { newHash: true, ownsPath: true });
  const saved = await store.getAttachment('81');
  t.match(saved, { ...expectedContext(item.message_id, context.channel_id, 'G'), channel_name: 'c' });
  t.notOk(saved && 'thread_name' in saved, 'no thread_name for a channel');

  const forward = contextItem(context, '81', {
    message_id: '982',
    source: 'forward',
    author_id: '556',
    author_name: 'forwarder',
    message: { edited_timestamp: null, author_display_name: undefined, author_bot: true, content: '' },
    width: undefined,
    height: undefined,
    description: undefined,
    spoiler: false,
  });
  await recordReference(
    store,
    { kind: 'saved', item: forward, path: '/out/982.png', bytes: 3, sha256: 'cc', duplicate_of: '/out/81.png' },
    saved as SavedRecord,
  );
  const reference = await store.getReference('81', '982');
  t.match(reference, {
    author_id: '556',
    author_name: 'forwarder',
    author_bot: true,
    edited_timestamp: null,
    content: '',
    spoiler: false,
    jump_url: `https://discord.com/channels/100000000000000001/${context.channel_id}/982`,
  });
  t.equal(reference?.author_display_name, undefined, "the forwarder's, not the first copy's");
  t.equal(reference?.width, undefined, "the forwarded copy's own dimensions (none), not the first record's");

  const failing = contextItem(threadContext, '83');
  await recordFailure(store, { kind: 'failed', item: failing, reason: 'http_503' });
  const failed = await store.getAttachment('83');
  t.match(failed, { ...expectedContext(failing.message_id, threadContext.channel_id), channel_name: 'parent-channel', thread_name: 'the thread' });

  const going = contextItem(threadContext, '84');
  await recordFailure(store, { kind: 'failed', item: going, reason: 'http_503' });
  await recordFailure(store, { kind: 'skipped', item: going, reason: 'deleted' });
  t.match(await store.getAttachment('84'), { status: 'gone', ...expectedContext(going.message_id, threadContext.channel_id), thread_name: 'the thread' });
});

t.test('metadata: a record without a field Discord did not send has no such key (nothing serialised as null)', async (t) => {
  const { store, context } = await localWorld(t);
  await recordSaved(store, { kind: 'saved', item: localItem(context, '85'), path: '/out/85.png', bytes: 3, sha256: 'dd' }, { newHash: true, ownsPath: true });
  const record = (await store.getAttachment('85')) as unknown as Record<string, unknown>;
  for (const key of ['width', 'height', 'description', 'author_display_name', 'thread_name']) t.notOk(key in record, `no ${key}`);
  t.equal(record.edited_timestamp, null, 'never edited: null, as Discord says');
  t.equal(record.spoiler, false);
});
