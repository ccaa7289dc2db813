// progress.json of a running `dps follow` (ProgressFile.setFollowing): the channels it follows now are marked
// `following: true` in every write while it runs, others never, and the last write (running: false) marks none.
// A channel record's last_event_at and lag_ms (the last live message) go into its entry, running or not.

import t from 'tap';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ProgressFile, progressFilePath } from '../../lib/output/progress-file.js';
import type { ProgressFileReport } from '../../lib/output/progress-file.js';
import { statusEntry } from '../../lib/output/status-report.js';
import { openStore } from '../../lib/store/open.js';
import type { ChannelRecord } from '../../lib/types.js';

function record(id: string, extra: Partial<ChannelRecord> = {}): ChannelRecord {
  return {
    guild_id: '100000000000000001',
    guild_name: 'G',
    channel_id: id,
    channel_name: `c${id.slice(-1)}`,
    last_message_id: undefined,
    last_updated: '2026-01-01T00:00:00.000Z',
    total_images: 0,
    failed: 0,
    ...extra,
  };
}

t.test('following: true only for the followed channels, only while running', async (t) => {
  const dir = t.testdir();
  const state = join(dir, 'state');
  const store = await openStore(state);
  t.teardown(() => store.close());
  const [a, b, c] = ['200000000000000001', '200000000000000002', '200000000000000003'];
  for (const id of [a, b, c]) await store.putChannel(record(id));
  const followed = new Set([a, b]);
  const file = new ProgressFile(store, state, { intervalMs: 60_000 });
  file.setFollowing(() => followed);
  const running = file.snapshot(true).servers['100000000000000001']!.channels;
  t.equal(running[a]?.following, true, 'a followed channel');
  t.equal(running[b]?.following, true, 'another');
  t.equal(running[c]?.following, undefined, 'a channel of the state not followed: no field');
  followed.delete(b); // deleted while following
  t.equal(file.snapshot(true).servers['100000000000000001']!.channels[b]?.following, undefined, 'no longer followed: no longer marked');
  await file.start();
  await file.close();
  const last = JSON.parse(await readFile(progressFilePath(state), 'utf8')) as ProgressFileReport;
  t.equal(last.running, false);
  t.notOk(
    Object.values(last.servers['100000000000000001']!.channels).some((entry) => entry.following !== undefined),
    'the last write (the run ended) marks none',
  );
});

t.test('statusEntry: last_event_at and lag_ms from the record, absent when it has none', async (t) => {
  const live = statusEntry(record('200000000000000001', { last_event_at: '2026-02-03T04:05:06.789Z', lag_ms: 321 }), 0);
  t.equal(live.last_event_at, '2026-02-03T04:05:06.789Z');
  t.equal(live.lag_ms, 321);
  t.equal(statusEntry(record('200000000000000001', { lag_ms: 0, last_event_at: 'x' }), 0).lag_ms, 0, 'a lag of 0 is kept');
  const plain = statusEntry(record('200000000000000002'), 0);
  t.notOk('last_event_at' in plain || 'lag_ms' in plain || 'following' in plain, 'a channel never followed has none of the fields');
});
