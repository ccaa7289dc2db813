// Issue 23: a failed file keeps its message context in its record, the retry pass (failed.ts) rebuilds the item
// from it, and the record written when the retry saves the file carries the same context.

import t from 'tap';
import { failedItems } from '../../lib/stages/failed.js';
import { recordFailure, recordSaved } from '../../lib/stages/record.js';
import type { UrlRefresher } from '../../lib/discord/refresh.js';
import { collect } from '../helpers/harness.js';
import { localItem, localWorld } from '../helpers/stage-items.js';

t.test('a retried file is recorded with the context its failure kept', async (t) => {
  const { store } = await localWorld(t);
  const context = {
    guild_id: '100000000000000001',
    guild_name: 'G',
    channel_id: '100000000000000007',
    channel_name: 'thr',
    parent_id: '100000000000000002',
    parent_name: 'par',
  };
  const item = localItem(context, '91', {
    author_id: '7',
    author_name: 'u',
    message: { edited_timestamp: '2024-02-02T00:00:00.000Z', author_display_name: 'U', author_bot: true, content: 'text\twith tab' },
    width: 1,
    height: 2,
    description: 'd',
    spoiler: true,
  });
  await recordFailure(store, { kind: 'failed', item, reason: 'network' });
  const refresher = { renew: async () => ({ url: item.url }) } as unknown as UrlRefresher;
  const [retried] = await collect(failedItems(context, { store, refresher }));
  t.ok(retried);
  await recordSaved(store, { kind: 'saved', item: retried!, path: '/out/91.png', bytes: 3, sha256: 'ee' }, { newHash: true, ownsPath: true });
  const record = await store.getAttachment('91');
  t.match(record, {
    status: 'saved',
    author_id: '7',
    author_name: 'u',
    author_display_name: 'U',
    author_bot: true,
    edited_timestamp: '2024-02-02T00:00:00.000Z',
    content: 'text\twith tab',
    channel_name: 'par',
    thread_name: 'thr',
    width: 1,
    height: 2,
    description: 'd',
    spoiler: true,
    jump_url: `https://discord.com/channels/100000000000000001/100000000000000007/${item.message_id}`,
  });
});
