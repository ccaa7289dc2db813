// The --write-metadata stage (lib/stages/metadata.ts, metadata-channel.ts) on a real LevelDB and real files:
// results pass through unchanged and in order; `file` mode writes a sidecar for each file with a name of its own
// (never for a duplicate recorded at the first copy's path, never over a file dps did not write or another
// file's name); `channel` mode writes one line per message, cuts a torn last line, indexes lines a killed run
// appended without telling the state, and never lists a file twice (a retried file gets a line of its own).

import t from 'tap';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { itemFolder } from '../../lib/stages/claim-path.js';
import { ChannelMetadata } from '../../lib/stages/metadata-channel.js';
import { writeMetadata } from '../../lib/stages/metadata.js';
import { fileMetadata, messageMetadata, sidecarText } from '../../lib/stages/metadata-fields.js';
import type { MetadataMode } from '../../lib/stages/metadata.js';
import type { Store } from '../../lib/store/store.js';
import type { ChannelContext, ItemResult, MediaItem, SavedResult } from '../../lib/types.js';
import { collect } from '../helpers/harness.js';
import { localItem, localWorld } from '../helpers/stage-items.js';

type World = Awaited<ReturnType<typeof localWorld>>;

function run(world: World, mode: MetadataMode, results: ItemResult[], retry = false, log: string[] = [], repairSince?: number): Promise<ItemResult[]> {
  return collect(
    writeMetadata(
      (async function* () {
        yield* results;
      })(),
      {
        mode,
        store: world.store as Store,
        out: world.out,
        folders: new Map(),
        disk: world.disk,
        context: world.context,
        retry,
        log: (l) => log.push(l),
        repairSince,
      },
    ),
  );
}

function item(context: ChannelContext, id: string, message: string, over: Partial<MediaItem> = {}): MediaItem {
  return localItem(context, id, {
    message_id: message,
    author_id: '42',
    author_name: 'poster',
    message: { edited_timestamp: null, author_display_name: 'Poster', author_bot: false, content: `text of ${message}, "quoted"\n` },
    width: 4,
    height: 3,
    ...over,
  });
}

// A saved file on disk at its folder (as fetch leaves it).
async function saved(world: World, it: MediaItem, over: Partial<SavedResult> = {}): Promise<SavedResult> {
  const path = join(itemFolder(world.out, it), `${it.attachment_id}.png`);
  await mkdir(dirname(path), { recursive: true });
  if (over.path === undefined) await writeFile(path, 'png');
  return { kind: 'saved', item: it, path, bytes: 3, sha256: 'ab'.repeat(32), ...over };
}

const readJson = async (file: string): Promise<Record<string, unknown>> => JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;

t.test('file: one sidecar per file with a name of its own; results pass through in order', async (t) => {
  const world = await localWorld(t);
  const { context } = world;
  const first = await saved(world, item(context, '11', '900'));
  const linked = await saved(world, item(context, '12', '901', { last_of_message: false, index: 0 }), { duplicate_of: first.path });
  const referenced = await saved(world, item(context, '13', '901', { index: 1 }), { path: first.path, duplicate_of: first.path });
  const failed: ItemResult = { kind: 'failed', item: item(context, '14', '902'), reason: 'http_404' };
  const announced = await saved(world, item(context, '15', '903'));
  const archivedOld = await saved(world, item(context, '16', '904'));
  const results: ItemResult[] = [
    first,
    linked,
    referenced,
    failed,
    { kind: 'mark', context, message_id: '905', messages: 2 },
    { kind: 'archived', item: announced.item, path: announced.path, bytes: 3, sha256: announced.sha256, announce: true },
    { kind: 'archived', item: archivedOld.item, path: archivedOld.path, bytes: 3, sha256: archivedOld.sha256, announce: false },
  ];
  const passed = await run(world, 'file', results);
  t.equal(passed.length, results.length);
  t.ok(
    passed.every((r, i) => r === results[i]),
    'the same results, in order',
  );
  const folder = dirname(first.path);
  t.same((await readdir(folder)).filter((f) => f.endsWith('.json')).sort(), ['11.png.json', '12.png.json', '15.png.json']);
  const sidecar = await readJson(`${first.path}.json`);
  t.match(sidecar, {
    attachment_id: '11',
    message_id: '900',
    path: first.path,
    sha256: first.sha256,
    bytes: 3,
    filename: '11.png',
    content_type: 'image/png',
    size: 3,
    width: 4,
    height: 3,
    spoiler: false,
    author_id: '42',
    author_name: 'poster',
    author_display_name: 'Poster',
    author_bot: false,
    content: 'text of 900, "quoted"\n',
    channel_name: 'c',
    guild_name: 'G',
    jump_url: `https://discord.com/channels/${context.guild_id}/${context.channel_id}/900`,
  });
  t.notOk('thread_name' in sidecar);
  t.match(await readJson(`${linked.path}.json`), { attachment_id: '12', duplicate_of: first.path }, 'a linked duplicate has its own');
  t.same(
    (await readdir(folder)).filter((f) => f.includes('dps-tmp')),
    [],
    'no temp left',
  );
});

t.test('file: never over a file dps did not write, nor at a name another file of the archive holds', async (t) => {
  const world = await localWorld(t);
  const { context, store } = world;
  const mine = await saved(world, item(context, '21', '910'));
  await writeFile(`${mine.path}.json`, 'user data');
  const other = await saved(world, item(context, '22', '911'));
  t.ok(await store.claimPath(`${other.path}.json`, '99', true), 'another attachment holds the sidecar name');
  const log: string[] = [];
  await run(world, 'file', [mine, other], false, log);
  t.equal(await readFile(`${mine.path}.json`, 'utf8'), 'user data', 'the foreign file is untouched');
  t.equal(await world.store.storedClaim(`${mine.path}.json`), undefined, 'no claim is kept for a name dps could not write');
  await run(world, 'file', [mine]); // announced again by a later run
  t.equal(await readFile(`${mine.path}.json`, 'utf8'), 'user data', 'still untouched the next time');
  log.length = 0;
  await run(world, 'file', [mine, other], false, log);
  t.equal(log.length, 2, 'both are told on stderr');
  t.match(log.join('\n'), /not written/);
  const files = await readdir(dirname(mine.path));
  t.notOk(files.includes('22.png.json'));

  // Its own sidecar from an earlier run (the claim in the state) is replaced, e.g. when the file is announced again.
  const again = await saved(world, item(context, '23', '912'));
  await run(world, 'file', [again]);
  await writeFile(`${again.path}.json`, '{"stale": true}');
  await run(world, 'file', [{ kind: 'archived', item: again.item, path: again.path, bytes: 3, sha256: again.sha256, announce: true }]);
  t.match(await readJson(`${again.path}.json`), { attachment_id: '23' }, 'rewritten');
});

// After a machine crash in a window of sidecars not yet durable (lib/run-sidecars.ts), a file whose record was lost
// comes back adopted, its sidecar possibly empty or zeros: that one is replaced; a whole JSON that is not its own,
// and a broken file older than the window, are not.
t.test('file: after a crash, a broken sidecar written in the window is replaced; nothing else is', async (t) => {
  const world = await localWorld(t);
  const { context } = world;
  const old = await saved(world, item(context, '61', '960'));
  await writeFile(`${old.path}.json`, '');
  const since = Math.floor((await stat(`${old.path}.json`)).ctimeMs) + 1; // the window starts after this one
  const empty = await saved(world, item(context, '62', '961'));
  await writeFile(`${empty.path}.json`, '');
  const zeros = await saved(world, item(context, '63', '962'));
  await writeFile(`${zeros.path}.json`, Buffer.alloc(600));
  const foreign = await saved(world, item(context, '64', '963'));
  await writeFile(`${foreign.path}.json`, '{"someone": "else"}');
  const adopted = (file: SavedResult): ItemResult => ({ kind: 'archived', item: file.item, path: file.path, bytes: 3, sha256: file.sha256, announce: true });
  const files = [old, empty, zeros, foreign];
  await run(world, 'file', files.map(adopted)); // no crash window: all four left alone
  t.same(await Promise.all(files.map((f) => readFile(`${f.path}.json`, 'utf8'))), ['', '', '\0'.repeat(600), '{"someone": "else"}']);
  await run(world, 'file', files.map(adopted), false, [], since);
  t.equal(await readFile(`${old.path}.json`, 'utf8'), '', 'older than the window: left alone');
  t.match(await readJson(`${empty.path}.json`), { attachment_id: '62', message_id: '961' }, 'empty: replaced');
  t.match(await readJson(`${zeros.path}.json`), { attachment_id: '63', message_id: '962' }, 'zeros: replaced');
  t.equal(await readFile(`${foreign.path}.json`, 'utf8'), '{"someone": "else"}', 'whole JSON not its own: left alone');
});

// The disk thread ends a downloaded file's sidecar itself (lib/fs/sidecar-text.ts): the same bytes as the whole
// object stringified, whatever the fields hold.
t.test('file: a sidecar ended by the disk thread is byte for byte the whole object as JSON', async (t) => {
  const world = await localWorld(t);
  const it = item(world.context, '61', '960', { filename: 'a "b" \\ 😀.png', description: 'alt\n"x"' });
  for (const file of [
    await saved(world, it),
    await saved(world, it, { path: join(world.out, 'ü "q" \\.png'), sha256: 'cd'.repeat(32), bytes: 0 }),
    await saved(world, it, { duplicate_of: join(world.out, 'first.png') }),
  ])
    t.equal(sidecarText(file), `${JSON.stringify({ ...messageMetadata(file.item), ...fileMetadata(file) }, null, 2)}\n`);
});

const logPath = (world: World, it: MediaItem): string => join(itemFolder(world.out, it), 'messages.ndjson');
const lines = async (file: string): Promise<Array<Record<string, unknown>>> =>
  (await readFile(file, 'utf8'))
    .split('\n')
    .slice(0, -1)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

t.test('channel: one line per message with files, in order; no file when nothing was saved', async (t) => {
  const world = await localWorld(t);
  const { context } = world;
  await run(world, 'channel', [{ kind: 'mark', context, message_id: '919', messages: 1 }]);
  t.same(await readdir(world.out).catch(() => []), [], 'no messages.ndjson without saved files');
  const a1 = await saved(world, item(context, '31', '920', { last_of_message: false }));
  const a2 = await saved(world, item(context, '32', '920', { index: 1 }));
  const b = await saved(world, item(context, '33', '921'));
  await run(world, 'channel', [a1, a2, { kind: 'mark', context, message_id: '922', messages: 1 }, b]);
  const got = await lines(logPath(world, a1.item));
  t.same(
    got.map((l) => [l.message_id, (l.files as Array<{ attachment_id: string }>).map((f) => f.attachment_id)]),
    [
      ['920', ['31', '32']],
      ['921', ['33']],
    ],
  );
  t.match(got[0], {
    author_display_name: 'Poster',
    content: 'text of 920, "quoted"\n',
    jump_url: `https://discord.com/channels/${context.guild_id}/${context.channel_id}/920`,
  });
  t.match((got[0]!.files as unknown[])[0], { path: a1.path, sha256: a1.sha256, bytes: 3, filename: '31.png', width: 4 });
  // The same messages again (a run that re-announces them): nothing added.
  await run(world, 'channel', [a1, a2, b]);
  t.equal((await lines(logPath(world, a1.item))).length, 2, 'never twice');
});

t.test('channel: a killed run left a whole unindexed line and a torn one; the next pass indexes one and cuts the other', async (t) => {
  const world = await localWorld(t);
  const { context } = world;
  const a = await saved(world, item(context, '41', '930'));
  await run(world, 'channel', [a]);
  const file = logPath(world, a.item);
  const b = await saved(world, item(context, '42', '931'));
  const c = await saved(world, item(context, '43', '932'));
  // Appended by a run killed before the state learnt of it, then a line cut in the middle.
  const whole = `${JSON.stringify({ message_id: '931', files: [{ attachment_id: '42' }] })}\n`;
  await writeFile(file, `${await readFile(file, 'utf8')}${whole}{"message_id":"932","fi`);
  await run(world, 'channel', [b, c]);
  const text = await readFile(file, 'utf8');
  t.ok(text.endsWith('\n'));
  t.notMatch(text, /"fi$|"fi\n/, 'the torn line is gone');
  t.same(
    (await lines(file)).map((l) => l.message_id),
    ['930', '931', '932'],
    'the unindexed message is not written again',
  );
});

t.test('channel: a file saved later by the retry pass gets a line of its own, marked retry and added', async (t) => {
  const world = await localWorld(t);
  const { context } = world;
  const a1 = await saved(world, item(context, '51', '940', { last_of_message: false }));
  const failed: ItemResult = { kind: 'failed', item: item(context, '52', '940', { index: 1 }), reason: 'network' };
  await run(world, 'channel', [a1, failed]);
  const a2 = await saved(world, item(context, '52', '940', { index: 1 }));
  await run(world, 'channel', [a2], true);
  await run(world, 'channel', [a2], true); // retried again (announced again): nothing
  const got = await lines(logPath(world, a1.item));
  t.same(
    got.map((l) => [l.message_id, (l.files as Array<{ attachment_id: string }>).map((f) => f.attachment_id), l.retry, l.added]),
    [
      ['940', ['51'], undefined, undefined],
      ['940', ['52'], true, true],
    ],
  );
});

t.test('channel: a messages.ndjson dps did not write is left alone; the log takes the next name', async (t) => {
  const world = await localWorld(t);
  const { context } = world;
  const a = await saved(world, item(context, '61', '950'));
  await writeFile(logPath(world, a.item), 'user file\n');
  await run(world, 'channel', [a]);
  t.equal(await readFile(logPath(world, a.item), 'utf8'), 'user file\n');
  const other = join(dirname(a.path), `messages_${context.channel_id}.ndjson`);
  t.same(
    (await lines(other)).map((l) => l.message_id),
    ['950'],
  );
  // A later pass finds it again (the state knows its path).
  const b = await saved(world, item(context, '62', '951'));
  await run(world, 'channel', [b]);
  t.same(
    (await lines(other)).map((l) => l.message_id),
    ['950', '951'],
  );
  // An attachment that renders to the log's name never takes it: its claim is the log's.
  t.equal(await world.store.storedClaim(other), `metadata!${context.channel_id}`);
});

t.test('channel: a run killed after creating messages.ndjson, before the state recorded it, keeps that log', async (t) => {
  const world = await localWorld(t);
  const { context } = world;
  const a = await saved(world, item(context, '71', '970'));
  const file = logPath(world, a.item);
  // What the killed run left: its claim of the name, and the log with one whole line; no record of the log.
  await world.store.claimPath(file, `metadata!${context.channel_id}`, true);
  await world.store.recordMetadataLines('100000000000000009', { path: join(world.out, 'elsewhere.ndjson'), length: 0 }, []); // the claim's write is done
  await writeFile(file, `${JSON.stringify({ message_id: '970', files: [{ attachment_id: '71' }] })}\n`);
  const b = await saved(world, item(context, '72', '971'));
  await run(world, 'channel', [a, b]); // 970 announced again by the next run, then a new message
  t.same(
    (await lines(file)).map((l) => l.message_id),
    ['970', '971'],
    'the same log goes on, without a second line for 970',
  );
  t.same(
    (await readdir(dirname(file))).filter((f) => f.startsWith('messages')),
    ['messages.ndjson'],
    'no second log for the channel',
  );
});

// dps follow runs a channel's catch-up and its live messages through two metadata stages at once: two writers
// of one channel's log in one run. Each appended at the length it knew, so the second one's lines were written
// over by the first's next line.
t.test('channel: two writers of one channel at once (catch-up and live) never write over each other', async (t) => {
  const world = await localWorld(t);
  const { context } = world;
  const options = { mode: 'channel' as const, store: world.store as Store, out: world.out, folders: new Map(), disk: world.disk, context, retry: false };
  const catchUp = new ChannelMetadata(options);
  const live = new ChannelMetadata(options);
  const a = await saved(world, item(context, '51', '950'));
  const b = await saved(world, item(context, '52', '951'));
  const c = await saved(world, item(context, '53', '952'));
  const d = await saved(world, item(context, '54', '953'));
  catchUp.file(a);
  await catchUp.messageDone();
  live.file(b);
  await live.messageDone();
  catchUp.file(c);
  live.file(d);
  await Promise.all([catchUp.messageDone(), live.messageDone()]);
  await Promise.all([catchUp.close(), live.close()]);
  t.same((await lines(logPath(world, a.item))).map((l) => l.message_id).sort(), ['950', '951', '952', '953'], 'every line whole, none lost');
});
