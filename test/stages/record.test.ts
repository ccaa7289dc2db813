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
