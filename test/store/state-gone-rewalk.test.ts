// Store operations of issue 20 items 3 and 9 on a real LevelDB: recordGone (terminal state of a deleted file),
// restartWalk (a re-walk keeps what earlier runs announced) and advanceCursor's filter narrowing.

import { join } from 'node:path';
import t from 'tap';
import { record } from '../helpers/records.js';
import { openStore } from '../../lib/store/open.js';
import type { WalkFilter } from '../../lib/types.js';

const all: WalkFilter = { types: 'all', max_size: null, embeds: false, stickers: false };
const png: WalkFilter = { types: ['png'], max_size: 1000, embeds: false, stickers: false };

t.test('recordGone: out of the retry queue, counted as gone, never over a saved record', async (t) => {
  const store = await openStore(join(t.testdir(), 'state'));
  t.teardown(() => store.close());
  await store.recordFailed(record('a1', { url: 'https://cdn/a1', author_name: 'ann', index: 2 }));
  t.equal((await store.getChannel('c1'))?.failed, 1);
  t.equal(await store.recordGone(record('a1', { status: 'gone', reason: 'deleted' })), true);
  const gone = await store.getAttachment('a1');
  t.equal(gone?.status, 'gone');
  t.equal(gone?.url, undefined, 'no URL left to ask for');
  t.equal(gone?.author_name, 'ann', 'what the failed record knew is kept');
  const channel = await store.getChannel('c1');
  t.equal(channel?.failed, 0);
  t.equal(channel?.gone, 1);
  const queue: unknown[] = [];
  for await (const item of store.failedItems({ channelId: 'c1' })) queue.push(item);
  t.same(queue, [], 'left the retry queue');
  t.equal(await store.recordGone(record('a1', { status: 'gone' })), true);
  t.equal((await store.getChannel('c1'))?.gone, 1, 'counted once');
  await store.recordSaved({ ...record('s1'), status: 'saved', path: '/archive/s1.png', sha256: 'h', bytes: 1 });
  t.equal(await store.recordGone(record('s1', { status: 'gone' })), false, 'a saved record is never downgraded');
});

t.test('restartWalk and advanceCursor: the filter record narrows, a re-walk keeps the first announced bounds', async (t) => {
  const store = await openStore(join(t.testdir(), 'state'));
  t.teardown(() => store.close());
  await store.advanceCursor('c1', '100', { guild_id: 'g1' }, undefined, all);
  t.same((await store.getChannel('c1'))?.walked_with, all, "a new record takes the walk's filter");
  await store.advanceCursor('c1', '100', {}, undefined, png);
  t.same((await store.getChannel('c1'))?.walked_with, all, 'a run that walked nothing new does not narrow it');
  await store.advanceCursor('c1', '150', {}, { from: '300', to: '400' }, png);
  t.same((await store.getChannel('c1'))?.walked_with, png, 'one that walked on narrows it');

  const restarted = await store.restartWalk('c1', all, '2026-01-01T00:00:00.000Z');
  t.equal(restarted.last_message_id, undefined, 'the cursor starts again');
  t.equal(restarted.done_above, undefined);
  t.same(restarted.rewalk, { below: '150', above: { from: '300', to: '400' }, since: '2026-01-01T00:00:00.000Z' });
  await store.advanceCursor('c1', '120', {}, undefined, all);
  const nested = await store.restartWalk('c1', { ...all, embeds: true }, '2026-02-01T00:00:00.000Z');
  t.same(nested.rewalk, restarted.rewalk, "a widening during a re-walk keeps the first re-walk's record");
  await store.advanceCursor('c1', '350', {}, undefined, all);
  t.ok((await store.getChannel('c1'))?.rewalk, "kept while the cursor is below the old span's end");
  await store.advanceCursor('c1', '400', {}, undefined, all);
  t.equal((await store.getChannel('c1'))?.rewalk, undefined, 'dropped once the cursor passes everything announced');
});
