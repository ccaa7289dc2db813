// lib/gallery/records.ts over a real LevelDB state: the gallery's channels with their kind (a channel, a thread, a
// forum post) from the parent type the state keeps, and, for a state that never kept it, from a post's starter.

import t from 'tap';
import { join } from 'node:path';
import { readChannels } from '../../lib/gallery/records.js';
import { openStore } from '../../lib/store/open.js';
import type { SavedRecord } from '../../lib/store/store.js';
import type { ChannelRecord } from '../../lib/types.js';
import { record } from '../helpers/records.js';

const G = '584171093229572103';
let n = 0;
// A saved file of `channel_id` (in a message of its own unless `message_id` is given).
function saved(channel_id: string, message_id?: string): SavedRecord {
  n++;
  const id = String(900_000_000_000_000_000n + BigInt(n));
  const message = message_id ?? String(800_000_000_000_000_000n + BigInt(n));
  const sha256 = n.toString(16).padStart(64, '0');
  return record(id, { status: 'saved', guild_id: G, channel_id, message_id: message, path: `/archive/${id}.png`, sha256, bytes: 100 }) as SavedRecord;
}
function channel(channel_id: string, name: string, parent?: { id: string; type?: number }): ChannelRecord {
  return {
    guild_id: G,
    guild_name: 'G',
    channel_id,
    channel_name: name,
    ...(parent ? { parent_id: parent.id, parent_name: `parent of ${name}`, ...(parent.type === undefined ? {} : { parent_type: parent.type }) } : {}),
    last_message_id: undefined,
    last_updated: '2026-01-01T00:00:00.000Z',
    total_images: 0,
    failed: 0,
  };
}

t.test("a channel's kind: channel, thread or forum post", async (t) => {
  const store = await openStore(join(t.testdir(), 'state'));
  t.teardown(() => store.close());
  const cases: Array<[string, string, { id: string; type?: number } | undefined, boolean, string]> = [
    // id, name, parent, a file in the message with the channel's own id, the kind expected
    ['700000000000000001', 'text', undefined, false, 'channel'],
    ['700000000000000002', 'thread of a text channel', { id: '700000000000000001', type: 0 }, false, 'thread'],
    ['700000000000000003', 'announcement thread', { id: '700000000000000009', type: 5 }, false, 'thread'],
    ['700000000000000004', 'forum post', { id: '700000000000000010', type: 15 }, false, 'forum-post'],
    ['700000000000000005', 'media post', { id: '700000000000000011', type: 16 }, true, 'forum-post'],
    ['700000000000000006', 'old state, post with files in its starter', { id: '700000000000000010' }, true, 'forum-post'],
    ['700000000000000007', 'old state, no files in the starter', { id: '700000000000000010' }, false, 'thread'],
    // The type known wins over the starter's id (a thread's id is its source message's, and may be reused).
    ['700000000000000008', 'known thread, a message with its id', { id: '700000000000000001', type: 0 }, true, 'thread'],
  ];
  for (const [id, name, parent, starter] of cases) {
    await store.putChannel(channel(id, name, parent));
    await store.recordSaved(saved(id, starter ? id : undefined));
    await store.recordSaved(saved(id));
  }
  await store.writesDone();
  const got = await readChannels(store, {});
  t.same(Object.fromEntries(got.map((c) => [c.name, c.kind])), Object.fromEntries(cases.map(([, name, , , kind]) => [name, kind])));
  t.ok(
    got.every((c) => c.files.length === 2),
    'every file listed',
  );
});
