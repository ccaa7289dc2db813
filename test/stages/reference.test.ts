// Forwards of archived files (issue 20, item 2): a forward's snapshot attachment that is already archived (same
// attachment id) is recognised before any download: a `saved` event with source `forward` and `duplicate_of`,
// no CDN request, a hard link at the forward's own path, and the attachment's first record untouched; identical
// bytes under different ids downloaded at the same moment end as hard links of one stored copy.

import { createHash } from 'node:crypto';
import { lstat, mkdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { startFakeDiscord } from '../../fixtures/fake-discord.js';
import type { FakeDiscord } from '../../fixtures/fake-discord.js';
import type { AttachmentSpec, MessageSpec } from '../../fixtures/generate.js';
import { singleChannel } from '../../fixtures/scenarios.js';
import { manifest } from '../../lib/index.js';
import { recordSaved } from '../../lib/stages/record.js';
import { resolveKnown } from '../../lib/stages/reference.js';
import type { WriteOptions } from '../../lib/stages/write.js';
import type { MediaItem } from '../../lib/types.js';
import { collect, runLibrary } from '../helpers/harness.js';
import { localItem, localWorld } from '../helpers/stage-items.js';
import { assertExact, baseOptions } from '../helpers/verify.js';

const png = (filename: string, size: number, extra: Partial<AttachmentSpec> = {}): AttachmentSpec => ({
  filename,
  contentType: 'image/png',
  size,
  width: 10,
  height: 10,
  ...extra,
});

type Saved = { event: 'saved'; path: string; sha256: string; attachment_id: string; message_id: string; source: string; duplicate_of?: string };

async function start(t: Test, overrides: Record<number, MessageSpec>, messages: number): Promise<{ fake: FakeDiscord; channelId: string }> {
  const fake = await startFakeDiscord({ scenario: singleChannel({ seed: 21, gapRate: 0, imageRatio: 0, messages, overrides }) });
  t.teardown(() => fake.close());
  return { fake, channelId: fake.scenario.guilds[0]!.channels.find((c) => c.gen)!.id };
}

const savedOf = (events: Array<{ event: string }>): Saved[] => events.filter((e): e is Saved => e.event === 'saved');
const cdnGets = (fake: FakeDiscord, attachmentId: string): number =>
  fake.requests.filter((r) => r.kind === 'cdn' && r.path.includes(`/${attachmentId}/`)).length;

async function sameFile(t: Test, a: string, b: string, message: string): Promise<void> {
  const [x, y] = await Promise.all([lstat(a), lstat(b)]);
  t.ok(x.ino === y.ino && x.dev === y.dev && x.nlink >= 2, `${message} (inode ${x.ino}/${y.ino}, links ${x.nlink})`);
}

t.test('a forward of an attachment archived in the same run: no GET, a reference with duplicate_of, a hard link', async (t) => {
  // Message 2 posts photo.png; message 9 forwards it (same attachment id and URL), message 10 forwards it with a file of its own.
  const overrides: Record<number, MessageSpec> = {
    2: { content: 'original', attachments: [png('photo.png', 5_000)] },
    9: { content: '', extras: [{ kind: 'forward', attachments: [], of: [{ index: 2 }] }] },
    10: { content: '', extras: [{ kind: 'forward', attachments: [png('new.png', 5_100)], of: [{ index: 2 }] }] },
  };
  const { fake, channelId } = await start(t, overrides, 12);
  const dir = t.testdir();
  const options = { ...baseOptions(fake, dir, channelId), concurrency: 16 };
  const { result, events } = await runLibrary(options);
  t.equal(result.exitCode, 0);
  const saved = savedOf(events);
  const original = saved.find((e) => e.source === 'attachment')!;
  const forwards = saved.filter((e) => e.attachment_id === original.attachment_id && e.source === 'forward');
  t.equal(forwards.length, 2, 'each forward is announced once');
  for (const forward of forwards) {
    t.equal(forward.duplicate_of, original.path, 'duplicate_of names the first copy');
    t.equal(forward.sha256, original.sha256);
    t.not(forward.path, original.path, "at the forward's own path");
    await sameFile(t, forward.path, original.path, 'a hard link to the first copy');
  }
  t.equal(cdnGets(fake, original.attachment_id), 1, 'the attachment is downloaded once');
  const records = await collect(manifest(options.state));
  const first = records.find((r) => r.attachment_id === original.attachment_id);
  t.match(first, { message_id: original.message_id, path: original.path, source: 'attachment' }, "the first record is the original's");
  await assertExact(t, fake, options.out, options.state, channelId);
});

t.test('a forward in a later run, and re-runs: no GET, announced once, the first record survives', async (t) => {
  const overrides: Record<number, MessageSpec> = {
    2: { content: 'original', attachments: [png('photo.png', 5_000)] },
    7: { content: '', extras: [{ kind: 'forward', attachments: [], of: [{ index: 2 }] }] },
  };
  const { fake, channelId } = await start(t, overrides, 5);
  const dir = t.testdir();
  const options = baseOptions(fake, dir, channelId);
  const run1 = await runLibrary(options);
  const original = savedOf(run1.events)[0]!;
  t.equal(savedOf(run1.events).length, 1);
  fake.appendMessages(channelId, 4, { imageRatio: 0 }); // index 7 (the forward) now exists
  fake.resetLog();
  const run2 = await runLibrary(options);
  t.equal(run2.result.exitCode, 0);
  const forward = savedOf(run2.events);
  t.match(forward, [{ source: 'forward', attachment_id: original.attachment_id, duplicate_of: original.path }], 'the forward: saved, duplicate_of');
  t.equal(cdnGets(fake, original.attachment_id), 0, 'no CDN request');
  await sameFile(t, forward[0]!.path, original.path, 'a hard link to the first copy');
  // Walking the whole history again announces nothing twice and downloads nothing.
  fake.resetLog();
  const run3 = await runLibrary({ ...options, fromStart: true });
  t.same(savedOf(run3.events), [], 'nothing announced again');
  t.equal(fake.requests.filter((r) => r.kind === 'cdn').length, 0, 'nothing downloaded again');
  const records = await collect(manifest(options.state));
  t.match(
    records.find((r) => r.attachment_id === original.attachment_id),
    { message_id: original.message_id, path: original.path, source: 'attachment' },
    'the first record survives',
  );
  await assertExact(t, fake, options.out, options.state, channelId);
});

t.test('identical bytes under different ids, downloaded at the same moment: hard links, one stored copy each', async (t) => {
  // 12 pairs: message 2j posts an image, message 2j+1 re-posts its bytes under another id and name; 32 downloads at once.
  const overrides: Record<number, MessageSpec> = {};
  for (let j = 0; j < 12; j++) {
    overrides[2 * j] = { content: 'original', attachments: [png(`orig${j}.png`, 20_000 + j)] };
    overrides[2 * j + 1] = { content: 'repost', attachments: [png(`copy${j}.png`, 0, { sameBytesAs: { index: 2 * j } })] };
  }
  const { fake, channelId } = await start(t, overrides, 24);
  const dir = t.testdir();
  const options = { ...baseOptions(fake, dir, channelId), concurrency: 32 };
  const { result, events } = await runLibrary(options);
  t.equal(result.exitCode, 0);
  const saved = savedOf(events);
  t.equal(saved.length, 24);
  const bySha = new Map<string, Saved[]>();
  for (const e of saved) bySha.set(e.sha256, [...(bySha.get(e.sha256) ?? []), e]);
  t.equal(bySha.size, 12, '12 distinct contents');
  for (const pair of bySha.values()) {
    const firsts = pair.filter((e) => e.duplicate_of === undefined);
    t.equal(firsts.length, 1, 'exactly one copy is the first');
    t.equal(pair.find((e) => e.duplicate_of !== undefined)?.duplicate_of, firsts[0]?.path, 'the other names it');
    await sameFile(t, pair[0]!.path, pair[1]!.path, 'hard-linked');
  }
  await assertExact(t, fake, options.out, options.state, channelId);
});

// resolveKnown on its own (real LevelDB, real files): an attachment archived from another message becomes a
// hard link + reference with no download; a stop before or during the check of the first copy records nothing.
async function archivedOnce(t: Test): Promise<{ world: Awaited<ReturnType<typeof localWorld>>; forward: MediaItem; options: WriteOptions }> {
  const world = await localWorld(t);
  const options: WriteOptions = { ...world, namePattern: '{message_id}_{filename}' };
  const original = localItem(world.context, '95', { size: 5 });
  const path = join(world.out, 'first.png');
  await mkdir(world.out, { recursive: true });
  await writeFile(path, 'hello');
  await recordSaved(
    world.store,
    { kind: 'saved', item: original, path, bytes: 5, sha256: createHash('sha256').update('hello').digest('hex') },
    { newHash: true, ownsPath: true },
  );
  return { world, forward: localItem(world.context, '95', { size: 5, message_id: '996', source: 'forward' }), options };
}

t.test("resolveKnown: a reference at the forward's own path, the first record untouched", async (t) => {
  const { world, forward, options } = await archivedOnce(t);
  const result = await resolveKnown(forward, options);
  t.match(result, { kind: 'saved', duplicate_of: join(world.out, 'first.png') });
  t.match(await world.store.getReference('95', '996'), { status: 'saved' });
  t.match(await world.store.getAttachment('95'), { message_id: '995' });
});

t.test('resolveKnown aborted before start: rejects, no reference', async (t) => {
  const { world, forward, options } = await archivedOnce(t);
  const controller = new AbortController();
  controller.abort();
  await t.rejects(resolveKnown(forward, { ...options, signal: controller.signal }));
  t.equal(await world.store.getReference('95', '996'), undefined);
});

t.test('resolveKnown aborted mid-flight (while checking the first copy): rejects, no reference', async (t) => {
  const { world, forward, options } = await archivedOnce(t);
  const controller = new AbortController();
  const getReference = world.store.getReference.bind(world.store);
  world.store.getReference = async (...args: Parameters<typeof getReference>) => {
    const found = await getReference(...args);
    controller.abort();
    return found;
  };
  await t.rejects(resolveKnown(forward, { ...options, signal: controller.signal }));
  world.store.getReference = getReference;
  t.equal(await world.store.getReference('95', '996'), undefined);
});

// File times (issue 23): a reference is another name of the first copy's inode; with mtime, a reference from an
// earlier post lowers the inode's times to that post, a later one leaves them (never raised).
t.test('resolveKnown with mtime: a reference from an earlier post lowers the shared times, a later one never raises them', async (t) => {
  const { world, forward, options } = await archivedOnce(t);
  const first = join(world.out, 'first.png');
  const firstPost = Date.UTC(2022, 0, 1);
  await utimes(first, firstPost / 1000, firstPost / 1000);
  const later = { ...forward, timestamp: '2023-01-01T00:00:00.000000+00:00' };
  await resolveKnown(later, { ...options, mtime: true });
  t.equal((await lstat(first)).mtimeMs, firstPost, 'a later post: unchanged');
  const earlier = { ...forward, message_id: '997', timestamp: '2021-01-01T00:00:00.250000+00:00' };
  const result = await resolveKnown(earlier, { ...options, mtime: true });
  t.match(result, { kind: 'saved', duplicate_of: first });
  t.equal((await lstat(first)).mtimeMs, Date.UTC(2021, 0, 1, 0, 0, 0, 250), 'an earlier post: lowered, for every name');
  t.equal((await lstat(first)).atimeMs, Date.UTC(2021, 0, 1, 0, 0, 0, 250));
});
