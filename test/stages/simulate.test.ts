// The dry run's stage (simulate): each file a real run would save becomes a would_save event (the path it would
// get, its declared size), counted once per attachment; references, adoptions, skips and failures are reported as a
// real run would, and nothing is written to --out.

import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { emptyCounts, emptyDryRunCounts } from '../../lib/output/events.js';
import type { Counts, DpsEvent, DryRunCounts } from '../../lib/output/events.js';
import { candidatePaths } from '../../lib/stages/claim-path.js';
import { simulate } from '../../lib/stages/simulate.js';
import type { DrySeen, SimulateOptions } from '../../lib/stages/simulate.js';
import { openStore } from '../../lib/store/open.js';
import type { Store } from '../../lib/store/store.js';
import type { ChannelContext, MediaItem, SelectedUnit } from '../../lib/types.js';
import { localItem } from '../helpers/stage-items.js';

const context: ChannelContext = { guild_id: '1', guild_name: 'G', channel_id: '2', channel_name: 'c' };

async function setup(
  t: Test,
  sub = '',
  root = t.testdir(),
): Promise<{ store: Store; out: string; options: SimulateOptions; counts: Counts & DryRunCounts; seen: DrySeen }> {
  const dir = join(root, sub);
  const store = await openStore(join(dir, 'state'));
  t.teardown(() => store.close());
  const counts = { ...emptyCounts(), ...emptyDryRunCounts() };
  const seen: DrySeen = new Map();
  const out = join(dir, 'out');
  return { store, out, counts, seen, options: { store, out, namePattern: '{filename}', context, counts, seen, cursor: '77' } };
}

async function run(units: SelectedUnit[], options: SimulateOptions): Promise<Array<Record<string, unknown>>> {
  const events: DpsEvent[] = [];
  for await (const event of simulate(
    (async function* () {
      yield* units;
    })(),
    options,
  ))
    events.push(event);
  return events as unknown as Array<Record<string, unknown>>;
}

const item = (id: string, over: Partial<MediaItem> = {}): MediaItem => localItem(context, id, { author_id: '555', author_name: 'ann', size: 1_000, ...over });

t.test('new files: would_save with the path a real run gives, the declared size, counted; nothing written', async (t) => {
  const { out, options, counts } = await setup(t);
  const a = item('11');
  const b = item('12', { filename: '11.png', unique_name: '11.png', size: 2_500 }); // renders to a's name
  const c = item('13', { size: undefined, source: 'embed' });
  const events = await run([a, b, c], options);
  t.same(
    events.map((e) => e.event),
    ['would_save', 'would_save', 'would_save', 'channel_done'],
  );
  const [ea, eb, ec, done] = events;
  t.same(ea, {
    event: 'would_save',
    guild_id: '1',
    channel_id: '2',
    message_id: '911',
    attachment_id: '11',
    filename: '11.png',
    path: candidatePaths(a, options).path,
    size: 1_000,
    content_type: 'image/png',
    timestamp: a.timestamp,
    author_id: '555',
    author_name: 'ann',
    source: 'attachment',
  });
  t.equal(eb?.path, candidatePaths(b, options).suffixedPath, 'a taken name moves on to the attachment-id variant, as a real run');
  t.equal(ec?.size, null, 'no declared size: null');
  t.same(
    { ...counts },
    { ...emptyCounts(), messages: 3, ...emptyDryRunCounts(), would_save: 3, would_download: 3, would_save_bytes: 3_500, would_save_unsized: 1 },
    'counted: bytes of the sized files, the unsized one apart',
  );
  t.match(
    done,
    { event: 'channel_done', cursor: '77', complete: true, would_save: 3, would_save_bytes: 3_500 },
    'channel_done carries the stored cursor and the dry counts',
  );
  t.notOk(existsSync(out), 'nothing is created in --out');
});

t.test('the same attachment again: a reference from another message, already archived from the same one', async (t) => {
  const { options, counts, seen } = await setup(t);
  const a = item('21');
  const forward = item('21', { message_id: '950', source: 'forward' });
  const again = item('21'); // the retry pass's file, walked again
  const events = await run([a, forward, again], options);
  t.equal(events[1]?.event, 'would_save');
  t.equal(events[1]?.duplicate_of, events[0]?.path, 'the forward points at the first copy');
  t.not(events[1]?.path, events[0]?.path, 'at its own path');
  t.match(events[2], { event: 'skipped', reason: 'already_archived' });
  t.equal(counts.would_save, 2);
  t.equal(counts.would_download, 1, 'downloaded once');
  t.equal(counts.would_save_bytes, 1_000, 'its bytes counted once');
  t.equal(seen.get('21')?.message_id, a.message_id, 'the run remembers the first sighting');
});

t.test('files the state has: already archived from this message, a reference from another', async (t) => {
  const { store, out, options, counts } = await setup(t);
  const saved = item('31');
  const path = join(out, 'G_1', 'c_2', '31.png');
  await store.recordSaved({
    attachment_id: '31',
    guild_id: '1',
    channel_id: '2',
    message_id: saved.message_id,
    filename: '31.png',
    content_type: 'image/png',
    timestamp: saved.timestamp,
    source: 'attachment',
    status: 'saved',
    path,
    sha256: 'a'.repeat(64),
    bytes: 1_000,
    updated_at: saved.timestamp,
  });
  const events = await run([saved, item('31', { message_id: '960', source: 'forward' })], options);
  t.match(events[0], { event: 'skipped', reason: 'already_archived' });
  t.match(events[1], { event: 'would_save', duplicate_of: path });
  t.equal(counts.would_download, 0, 'nothing to download');
  t.equal(counts.would_save_bytes, 0);
});

t.test('skips, archived units, marks, invalid files and the retry queue', async (t) => {
  const { options, counts } = await setup(t);
  const typed = item('41', { filename: 'a.pdf', content_type: 'application/pdf' });
  const archived = item('42');
  const invalid = item('43', { invalid: 'no url' });
  const unannounced = item('45');
  const events = await run(
    [
      { kind: 'skipped', item: typed, reason: 'type', detail: 'application/pdf' },
      { kind: 'archived', item: archived, path: '/x', bytes: 1, sha256: 'b'.repeat(64), announce: false },
      { kind: 'mark', context, message_id: '999', messages: 5 },
      invalid,
      { kind: 'archived', item: unannounced, path: '/y', bytes: 1_000, sha256: 'c'.repeat(64), duplicate_of: '/x', announce: true },
    ],
    options,
  );
  t.match(events[0], { event: 'skipped', reason: 'type', detail: 'application/pdf', attachment_id: '41' });
  t.match(events[1], { event: 'skipped', reason: 'already_archived', attachment_id: '42' }, 'an archived and announced file is nothing to do');
  t.match(events[2], { event: 'failed', reason: 'invalid_attachment', attachment_id: '43' }, 'an unusable attachment fails, as in a real run');
  t.match(
    events[3],
    { event: 'would_save', attachment_id: '45', path: '/y', duplicate_of: '/x', archived: true },
    'a file an interrupted run saved but never announced: a real run prints its saved event, so the dry run lists it',
  );
  t.same(
    { skipped: counts.skipped, failed: counts.failed, messages: counts.messages, would_save: counts.would_save },
    { skipped: 2, failed: 1, messages: 9, would_save: 1 },
  );
  t.same(
    { would_download: counts.would_download, would_save_bytes: counts.would_save_bytes },
    { would_download: 0, would_save_bytes: 0 },
    'it is not downloaded again: neither in would_download nor in the bytes',
  );

  const retry = await setup(t, 'retry', dirname(options.out));
  const queued = await run([item('44', { invalid: 'no usable link' })], { ...retry.options, retry: true });
  t.match(queued[0], { event: 'would_save', retry: true, size: 1_000 }, 'a failed file without a link: a real run retries it (its message is fetched)');
  t.equal(retry.counts.would_save_bytes, 1_000);
});

t.test('a file an interrupted run left under its claim: adopted by a real run, not downloaded', async (t) => {
  const { store, options, counts } = await setup(t);
  const a = item('51', { size: 4 });
  const b = item('52', { size: 4 });
  for (const [it, bytes] of [
    [a, 'abcd'],
    [b, 'abc'], // the wrong size: downloaded again
  ] as const) {
    const { path } = candidatePaths(it, options);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, bytes);
    await store.claimPath(path, it.attachment_id, true);
    store.releaseClaim(path, it.attachment_id);
  }
  await store.close(); // the claims are on disk
  const reopened = await openStore(join(dirname(options.out), 'state'));
  t.teardown(() => reopened.close());
  const events = await run([a, b], { ...options, store: reopened });
  t.match(events[0], { event: 'would_save', adopted: true, path: candidatePaths(a, options).path });
  t.equal(events[1]?.adopted, undefined, 'a file of another size is not adopted');
  t.equal(counts.would_download, 1);
  t.equal(counts.would_save_bytes, 4, 'only the download is counted');
});

t.test('a state that lost records (recovering): a file at its own path is adopted without a claim, as a real run does', async (t) => {
  const dir = t.testdir(); // once: a second call empties it
  const first = await setup(t, '', dir);
  const other = await setup(t, 'again', dir);
  const unique = { ...first.options, namePattern: '{message_id}_{filename}' };
  const a = item('55', { size: 3 });
  const { path } = candidatePaths(a, unique);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, 'abc');
  const plain = await run([a], unique);
  t.equal(plain[0]?.adopted, undefined, 'not recovering: no claim, no adoption (a user file may hold the name)');
  const recovering = await run([a], { ...other.options, namePattern: unique.namePattern, out: unique.out, recovering: true });
  t.match(recovering[0], { event: 'would_save', adopted: true, path });
  t.equal(other.counts.would_save_bytes, 0, 'not downloaded');
});

t.test('aborted before start and mid-flight', async (t) => {
  const { options } = await setup(t);
  const aborted = new AbortController();
  aborted.abort(new Error('stop'));
  await t.rejects(run([item('61')], { ...options, signal: aborted.signal }), 'aborted before start');
  const mid = new AbortController();
  const source = (async function* () {
    yield item('62');
    mid.abort(new Error('stop'));
    yield item('63');
  })();
  const seen: string[] = [];
  await t.rejects(async () => {
    for await (const event of simulate(source, { ...options, signal: mid.signal })) seen.push(event.event);
  }, 'aborted mid-flight');
  t.same(seen, ['would_save'], 'nothing after the abort, no channel_done');
});
