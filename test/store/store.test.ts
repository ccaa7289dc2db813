import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { Level } from 'level';
import { MemoryLevel } from 'memory-level';
import t from 'tap';
import { record } from '../helpers/records.js';
import type { Test } from 'tap';
import type { DpsError } from '../../lib/errors.js';
import { createStore, openStore } from '../../lib/store/open.js';
import { compareSnowflakes } from '../../lib/util/snowflake.js';
import type { SavedRecord, Store } from '../../lib/store/store.js';
import type { AttachmentRecord } from '../../lib/types.js';

const run = promisify(execFile);

function saved(id: string, over: Partial<SavedRecord> = {}): SavedRecord {
  return { ...record(id), status: 'saved', path: `/archive/${id}.png`, sha256: `sha-${id}`, bytes: 3, ...over };
}

async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const value of source) out.push(value);
  return out;
}

// The store's contract, run against LevelDB on disk and against memory-level.
function contract(name: string, make: (t: Test) => Promise<Store>): void {
  t.test(`${name}: cursor only moves forward, compared numerically`, async (t) => {
    const store = await make(t);
    t.equal(await store.getChannel('c1'), undefined);
    let rec = await store.advanceCursor('c1', '99', { guild_id: 'g1', guild_name: 'G', channel_name: 'general' });
    t.equal(rec.last_message_id, '99');
    t.equal(rec.total_images, 0);
    rec = await store.advanceCursor('c1', '100');
    t.equal(rec.last_message_id, '100', "'100' > '99' numerically");
    rec = await store.advanceCursor('c1', '99');
    t.equal(rec.last_message_id, '100', 'never backwards');
    rec = await store.advanceCursor('c1', '1234567890123456789', { channel_name: 'renamed' });
    rec = await store.advanceCursor('c1', '999999999999999999');
    t.equal(rec.last_message_id, '1234567890123456789');
    t.equal(rec.channel_name, 'renamed');
    t.equal(rec.guild_name, 'G', 'unpatched fields are kept');
    rec = await store.advanceCursor('c1', undefined, { guild_name: 'G2', channel_name: undefined });
    t.equal(rec.last_message_id, '1234567890123456789');
    t.same([rec.guild_name, rec.channel_name], ['G2', 'renamed'], 'undefined in a patch erases nothing');
    t.same(await store.getChannel('c1'), rec);
    await store.putChannel({ ...rec, channel_id: 'c2', last_message_id: undefined });
    t.same(
      (await collect(store.channels())).map((c) => c.channel_id),
      ['c1', 'c2'],
    );
    t.equal(compareSnowflakes('99', '100'), -1);
    t.equal(compareSnowflakes('100', '100'), 0);
  });

  t.test(`${name}: a span finished walking down sits above the cursor until the cursor reaches it`, async (t) => {
    const store = await make(t);
    let rec = await store.advanceCursor('c1', '100', {}, { from: '500', to: '900' });
    t.same([rec.last_message_id, rec.done_above], ['100', { from: '500', to: '900' }]);
    rec = await store.advanceCursor('c1', '200', {}, { from: '450', to: '900' });
    t.same([rec.last_message_id, rec.done_above], ['200', { from: '450', to: '900' }], 'the span grows downwards');
    rec = await store.advanceCursor('c1', '300');
    t.same(rec.done_above, { from: '450', to: '900' }, 'a cursor below the span leaves it');
    rec = await store.advanceCursor('c1', '1000', {}, { from: '1100', to: '1200' });
    t.same([rec.last_message_id, rec.done_above], ['1000', { from: '1100', to: '1200' }], 'a cursor past a span folds it in; a new span replaces it');
    rec = await store.advanceCursor('c1', '1100');
    t.same([rec.last_message_id, rec.done_above], ['1200', undefined], 'a cursor that reaches the span continues to its end');
    t.notOk('done_above' in rec, 'no empty field is stored');
    rec = await store.advanceCursor('c2', undefined, {}, { from: '5', to: '9' });
    t.same([rec.last_message_id, rec.done_above], [undefined, { from: '5', to: '9' }], 'a span without a cursor');
    rec = await store.advanceCursor('c2', '7');
    t.same([rec.last_message_id, rec.done_above], ['9', undefined], 'a cursor inside the span');
    t.same(await store.getChannel('c2'), rec);
  });

  t.test(`${name}: failed, retried, saved; counters follow records`, async (t) => {
    const store = await make(t);
    t.equal(await store.recordFailed(record('a1', { reason: 'HTTP 500', url: 'https://cdn/a1' })), true);
    t.equal(await store.recordFailed(record('a1', { reason: 'HTTP 503', url: undefined })), true);
    const failed = await store.getAttachment('a1');
    t.match(failed, { status: 'failed', reason: 'HTTP 503', attempts: 2, url: 'https://cdn/a1' });
    t.match(await store.getChannel('c1'), { failed: 1, total_images: 0 }, 'counted once');
    t.same(
      (await collect(store.failedItems())).map((r) => r.attachment_id),
      ['a1'],
    );

    await store.recordSaved(saved('a1'));
    t.match(await store.getAttachment('a1'), { status: 'saved', path: '/archive/a1.png', sha256: 'sha-a1', reason: undefined });
    t.same(await collect(store.failedItems()), [], 'left the retry queue');
    t.match(await store.getChannel('c1'), { failed: 0, total_images: 1 });

    t.equal(await store.recordFailed(record('a1', { reason: 'late failure' })), false, 'saved is never downgraded');
    t.match(await store.getAttachment('a1'), { status: 'saved' });
    await store.recordSaved(saved('a1'));
    t.match(await store.getChannel('c1'), { failed: 0, total_images: 1 }, 're-recording does not double count');
  });

  t.test(`${name}: hash index keeps the first path, path claims are exclusive`, async (t) => {
    const store = await make(t);
    await store.recordSaved(saved('a1', { sha256: 'same', path: '/archive/first.png' }));
    await store.recordSaved(saved('a2', { sha256: 'same', path: '/archive/second.png', duplicate_of: '/archive/first.png' }));
    t.same(await store.getHash('same'), { path: '/archive/first.png', attachment_id: 'a1' });
    t.equal(await store.getHash('other'), undefined);

    t.equal(await store.claimPath('/archive/first.png', 'a1'), true, 'already ours');
    t.equal(await store.claimPath('/archive/FIRST.png', 'a3'), false, 'case-insensitive, like macOS and Windows');
    t.equal(await store.claimPath('/archive/\u00e9t\u00e9.png', 'a3'), true);
    t.equal(await store.claimPath('/archive/E\u0301TE\u0301.png', 'a4'), false, 'decomposed and upper case: one name on macOS');
    t.equal(await store.claimPath('/archive/stra\u00dfe.png', 'a3'), true);
    t.equal(await store.claimPath('/archive/STRASSE.png', 'a4'), false, 'a full case fold');
    t.equal(await store.claimPath('/archive/new.png', 'a3'), true);
    t.equal(await store.claimPath('/archive/new.png', 'a4'), false);
    const racing = await Promise.all([store.claimPath('/archive/race.png', 'x'), store.claimPath('/archive/race.png', 'y')]);
    t.same(racing, [true, false], 'concurrent claims: exactly one wins');

    // An unlinked duplicate points at the first copy's path and must not steal its claim.
    await store.recordSaved(saved('a5', { sha256: 'same', path: '/archive/first.png', duplicate_of: '/archive/first.png' }));
    t.equal(await store.claimPath('/archive/first.png', 'a1'), true);
  });

  t.test(`${name}: a claim holds in this process until its record is written or it is released`, async (t) => {
    const store = await make(t);
    t.equal(await store.claimPath('/archive/p.png', 'a1'), true);
    t.equal(await store.claimPath('/archive/P.png', 'a2'), false, 'claimed here, not yet written: still exclusive');
    store.releaseClaim('/archive/p.png', 'a2');
    t.equal(await store.claimPath('/archive/p.png', 'a2'), false, 'only its owner can release a claim');
    store.releaseClaim('/archive/p.png', 'a1');
    t.equal(await store.claimPath('/archive/p.png', 'a2'), true, 'released (a1 was never saved): free again');

    t.equal(await store.claimPath('/archive/q.png', 'a3'), true);
    await store.recordSaved(saved('a4', { path: '/archive/q.png', sha256: 'h4' }));
    t.equal((await store.getAttachment('a4'))?.path, '/archive/q.png');
    store.releaseClaim('/archive/q.png', 'a3');
    t.equal(await store.claimPath('/archive/q.png', 'a5'), true, 'a record does not take a path another attachment claimed here');

    t.equal(await store.claimPath('/archive/r.png', 'a6'), true);
    await store.recordSaved(saved('a6', { path: '/archive/r.png', sha256: 'h6' }));
    store.releaseClaim('/archive/r.png', 'a6');
    t.equal(await store.claimPath('/archive/r.png', 'a7'), false, 'the record wrote the claim');
  });

  t.test(`${name}: concurrent records keep exact counters per channel, with and without caller hints`, async (t) => {
    const store = await make(t);
    await store.advanceCursor('c2', '5', { guild_id: 'g1' });
    await Promise.all(
      Array.from({ length: 40 }, (_, i) => {
        const channel_id = i % 2 === 0 ? 'c1' : 'c2';
        const rec = saved(`k${i}`, { channel_id, sha256: `h${i}`, path: `/archive/k${i}.png` });
        return i % 4 < 2 ? store.recordSaved(rec) : store.recordSaved(rec, { newHash: true, ownsPath: true });
      }),
    );
    await Promise.all([
      store.recordFailed(record('f1', { channel_id: 'c1' })),
      store.recordFailed(record('f2', { channel_id: 'c2' })),
      store.recordSaved(saved('k0', { sha256: 'h0', path: '/archive/k0.png' })),
    ]);
    const c1 = await store.getChannel('c1');
    const c2 = await store.getChannel('c2');
    t.equal(c1?.total_images, 20, 'c1: 20 saved (k0 saved twice counts once)');
    t.equal(c2?.total_images, 20);
    t.equal(c1?.failed, 1);
    t.equal(c2?.failed, 1);
    t.equal(c2?.last_message_id, '5', 'records never move the cursor');
    t.same(await store.getHash('h3'), { path: '/archive/k3.png', attachment_id: 'k3' }, 'a hinted new hash is indexed');
    t.equal(await store.claimPath('/archive/k3.png', 'other'), false, 'a hinted owned path is claimed');
  });

  t.test(`${name}: iteration filters and ordering`, async (t) => {
    const store = await make(t);
    await store.recordSaved(saved('s1', { guild_id: 'g1', channel_id: 'c1' }));
    await store.recordSaved(saved('s2', { guild_id: 'g1', channel_id: 'c2' }));
    await store.recordSaved(saved('s3', { guild_id: 'g2', channel_id: 'c3' }));
    await store.recordFailed(record('f1', { guild_id: 'g1', channel_id: 'c1', message_id: '100' }));
    await store.recordFailed(record('f2', { guild_id: 'g1', channel_id: 'c1', message_id: '99' }));
    await store.recordFailed(record('f3', { guild_id: 'g1', channel_id: 'c10', message_id: '5' }));
    const ids = (records: AttachmentRecord[]): string[] => records.map((r) => r.attachment_id).sort();
    t.same(ids(await collect(store.attachments())), ['f1', 'f2', 'f3', 's1', 's2', 's3']);
    t.same(ids(await collect(store.attachments({ guildId: 'g1' }))), ['f1', 'f2', 'f3', 's1', 's2']);
    t.same(ids(await collect(store.attachments({ channelId: 'c1' }))), ['f1', 'f2', 's1']);
    t.same(ids(await collect(store.attachments({ guildId: 'g2', channelId: 'c1' }))), []);
    const c1 = (await collect(store.failedItems({ channelId: 'c1' }))).map((r) => r.attachment_id);
    t.same(c1, ['f2', 'f1'], "one channel's queue (not c10's), oldest message first");
    t.same(
      (await collect(store.failedItems({ channelId: 'c10' }))).map((r) => r.attachment_id),
      ['f3'],
    );

    // Breaking out of a loop closes the iterator; an aborted signal stops iteration.
    for await (const _ of store.attachments()) break;
    const controller = new AbortController();
    controller.abort();
    await t.rejects(collect(store.attachments({}, controller.signal)), { code: 'LEVEL_ABORTED' });
  });

  t.test(`${name}: an object log's lines (--out s3://) read back in their order, up to the end asked, one channel's only`, async (t) => {
    const store = await make(t);
    const log = { path: 's3://b/k/messages.ndjson', length: 0 };
    for (const channel of ['7', '71']) {
      for (let n = 1; n <= 12; n++)
        await store.appendMetadataLine(channel, { ...log, lines: n }, `${channel}:${n}\n`, { message_id: `${n}`, files: [`a${n}`] });
    }
    t.same(
      await collect(store.metadataLines('7', 12)),
      Array.from({ length: 12 }, (_, i) => `7:${i + 1}\n`),
      'line 10 after line 9, not after line 1',
    );
    t.same(await collect(store.metadataLines('7', 3)), ['7:1\n', '7:2\n', '7:3\n'], 'the first `end` lines');
    t.same(await store.metadataLog('7'), { ...log, lines: 12 });
    t.same(await store.metadataFiles('71', '12'), ['a12'], 'the message index, written with its line');
    await store.recordMetadataLog('7', { ...log, lines: 12, uploaded: 12 });
    t.same(await store.metadataLog('7'), { ...log, lines: 12, uploaded: 12 });
  });
}

contract('level', async (t) => {
  const store = await openStore(path.join(t.testdir(), 'state'));
  t.teardown(() => store.close());
  return store;
});

contract('memory-level', async (t) => {
  const store = await createStore(new MemoryLevel<string, unknown>());
  t.teardown(() => store.close());
  return store;
});

t.test('state survives a reopen', async (t) => {
  const dir = path.join(t.testdir(), 'state');
  const first = await openStore(dir);
  await first.advanceCursor('c1', '42', { guild_id: 'g1' });
  await first.close();
  const second = await openStore(dir);
  t.equal((await second.getChannel('c1'))?.last_message_id, '42');
  await second.close();
});

t.test('a held state directory is refused with DPS_STORE_LOCKED', async (t) => {
  const dir = t.testdir();
  const first = await openStore(dir);
  t.teardown(() => first.close());
  const error = (await openStore(dir).catch((e: unknown) => e)) as DpsError;
  t.equal(error.code, 'DPS_STORE_LOCKED');
  t.equal(error.message, `state directory ${dir} is in use by another dps process`);
  t.equal(error.exitCode, 5);

  // And from another process, as a second `dps` would see it. This runs after the refused in-process open on
  // purpose: LevelDB's own in-process check closes a LOCK descriptor, which silently drops the fcntl lock.
  const storeModule = new URL('../../lib/store/open.ts', import.meta.url).href;
  const script = `import(${JSON.stringify(storeModule)}).then((m) => m.openStore(${JSON.stringify(dir)})).then(
    () => console.log('opened'), (e) => console.log(e.code))`;
  const tsLoader = process.execArgv.filter((arg) => !arg.startsWith('--inspect'));
  const { stdout } = await run(process.execPath, [...tsLoader, '--input-type=module', '-e', script], { timeout: 60_000 });
  t.equal(stdout.trim().split('\n').pop(), 'DPS_STORE_LOCKED');
});

t.test('a directory that is not ours is refused and left untouched', async (t) => {
  const root = t.testdir({ photos: { 'cat.png': 'meow' }, file: 'x' });
  const photos = path.join(root, 'photos');
  await t.rejects(openStore(photos), { code: 'DPS_STORE_CORRUPT', message: /not empty and is not a dps state directory/ });
  t.same(await fs.readdir(photos), ['cat.png'], 'nothing created');
  await t.rejects(openStore(path.join(root, 'file')), { code: 'DPS_STORE_CORRUPT', message: /is a file/ });

  // A LevelDB written by something else.
  const foreignDir = path.join(root, 'foreign');
  const foreign = new Level<string, string>(foreignDir);
  await foreign.put('user:1', 'someone else');
  await foreign.close();
  await t.rejects(openStore(foreignDir), { code: 'DPS_STORE_CORRUPT', message: /not a dps state directory/ });
  const reopened = new Level<string, string>(foreignDir);
  t.same(await reopened.keys().all(), ['user:1'], 'no meta written into it');
  await reopened.put('meta', 'not json');
  await reopened.close();
  await t.rejects(openStore(foreignDir), { code: 'DPS_STORE_CORRUPT' });

  // A LevelDB whose files are damaged.
  const brokenDir = path.join(root, 'broken');
  await (await openStore(brokenDir)).close();
  const current = path.join(brokenDir, 'CURRENT');
  await fs.writeFile(current, 'MANIFEST-999999\n');
  await t.rejects(openStore(brokenDir), { code: 'DPS_STORE_CORRUPT' });

  // memory-level too: a database with keys but no meta is someone else's.
  const memory = new MemoryLevel<string, unknown>({ valueEncoding: 'utf8' });
  await memory.put('x', 'y');
  await t.rejects(createStore(memory), { code: 'DPS_STORE_CORRUPT' });
  const newer = new MemoryLevel<string, unknown>({ valueEncoding: 'utf8' });
  await newer.put('meta', JSON.stringify({ format: 'dps-state', version: 2 }));
  await t.rejects(createStore(newer), { code: 'DPS_STORE_CORRUPT', message: /another dps version/ });
});

t.test('mustExist (read commands): only an existing dps state opens; nothing is ever created', async (t) => {
  const root = t.testdir({ empty: {}, notes: { 'notes.txt': 'mine' }, file: 'x' });
  const refuse = async (dir: string, code: string, message: RegExp): Promise<void> => {
    const error = (await openStore(dir, { mustExist: true }).catch((e: unknown) => e)) as DpsError;
    t.equal(error.code, code, `${path.basename(dir)}: ${code}`);
    t.match(error.message, message);
    t.equal(error.exitCode, 5, 'exit code 5');
  };
  const typo = path.join(root, 'stat', 'deeper');
  await refuse(typo, 'DPS_NO_STATE', /no dps state at .*does not exist/);
  t.notOk(await fs.stat(path.join(root, 'stat')).catch(() => undefined), 'a missing folder is not created (nor its parent)');
  await refuse(path.join(root, 'file'), 'DPS_NO_STATE', /is a file/);
  await refuse(path.join(root, 'empty'), 'DPS_NO_STATE', /not a dps state directory/);
  t.same(await fs.readdir(path.join(root, 'empty')), [], 'an empty folder stays empty');
  await refuse(path.join(root, 'notes'), 'DPS_NO_STATE', /not a dps state directory/);
  t.same(await fs.readdir(path.join(root, 'notes')), ['notes.txt'], 'a folder of other files is untouched');

  // A LevelDB without dps's meta record: empty (no state), or someone else's (foreign, as for a scrape).
  const bare = path.join(root, 'bare');
  const bareDb = new Level<string, string>(bare);
  await bareDb.open();
  await bareDb.close();
  await refuse(bare, 'DPS_NO_STATE', /not a dps state directory/);
  const reopened = new Level<string, string>(bare);
  t.same(await reopened.keys().all(), [], 'no meta record written into an empty database');
  await reopened.put('user:1', 'someone else');
  await reopened.close();
  await refuse(bare, 'DPS_STORE_CORRUPT', /another database/);

  // A real state opens and reads back.
  const state = path.join(root, 'state');
  const writer = await openStore(state);
  await writer.advanceCursor('c1', '42', { guild_id: 'g1' });
  await writer.close();
  const reader = await openStore(state, { mustExist: true });
  t.equal((await reader.getChannel('c1'))?.last_message_id, '42', 'an existing state opens');
  await reader.close();
});

t.test('openStore honours an aborted signal', async (t) => {
  const dir = path.join(t.testdir(), 'state');
  const reason = new Error('stop');
  await t.rejects(openStore(dir, { signal: AbortSignal.abort(reason) }), reason);
});

t.test('group commit: records made together are written as a few batches, in order, and read back at once', async (t) => {
  const db = new MemoryLevel<string, unknown>({ valueEncoding: 'json' });
  const store = await createStore(db);
  t.teardown(() => store.close());
  const batches: number[] = [];
  const batch = db.batch.bind(db) as (ops: unknown[]) => Promise<void>;
  (db as unknown as { batch: (ops: unknown[]) => Promise<void> }).batch = (ops: unknown[]) => {
    batches.push(ops.length);
    return batch(ops);
  };
  const records = Array.from({ length: 60 }, (_, i) => saved(`g${i}`, { sha256: `hg${i}`, path: `/archive/g${i}.png` }));
  // The same new attachment recorded twice in one group counts once: reads see the unwritten group.
  await Promise.all([...records.map((rec) => store.recordSaved(rec)), store.recordSaved(records[0]!)]);
  t.ok(batches.length <= 3, `61 records in ${batches.length} batch(es)`);
  t.equal((await store.getChannel('c1'))?.total_images, 60);
  await Promise.all([store.recordFailed(record('gf', { channel_id: 'c1' })), store.advanceCursor('c1', '500')]);
  const reopened = new Map<string, unknown>();
  for await (const [key, value] of db.iterator()) reopened.set(key, value);
  const channel = [...reopened].find(([key]) => key.endsWith('!c1'))?.[1] as { total_images: number; failed: number; last_message_id: string };
  t.same([channel.total_images, channel.failed, channel.last_message_id], [60, 1, '500'], 'on disk: the last value of each key, counters and cursor together');
});
