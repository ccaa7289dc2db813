// Re-adoption after a damaged state (issue 20, item 6) must not hand one attachment another's bytes. With a
// name pattern that has no per-file part ({date}), attachment X was archived at the bare name `2021-01-01`;
// attachment Y of the same day and the same declared size was not archived yet (it was outside the first run's
// --after window). The log is lost; the recovery run meets Y first (older), finds X's file at Y's bare
// candidate name with Y's size, and must not record it as Y: Y's own bytes have to be in the archive.

import t from 'tap';
import type { Test } from 'tap';
import { readdirSync, truncateSync } from 'node:fs';
import { link, lstat, mkdir, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { startFakeDiscord } from '../../fixtures/fake-discord.js';
import type { AttachmentSpec } from '../../fixtures/generate.js';
import { singleChannel } from '../../fixtures/scenarios.js';
import { adoptExisting } from '../../lib/stages/adopt.js';
import { claimPath } from '../../lib/stages/claim-path.js';
import type { WriteOptions } from '../../lib/stages/write.js';
import type { MediaItem } from '../../lib/types.js';
import { runLibrary } from '../helpers/harness.js';
import { localItem, localWorld } from '../helpers/stage-items.js';
import { assertExact, baseOptions } from '../helpers/verify.js';

const png = (filename: string, size: number): AttachmentSpec => ({ filename, contentType: 'image/png', size, width: 10, height: 10 });

t.test("recovery never adopts another attachment's file of the same size under a shared bare name", async (t) => {
  const overrides = { 9: { content: 'Y', attachments: [png('y.png', 5_000)] }, 10: { content: 'X', attachments: [png('x.png', 5_000)] } };
  const fake = await startFakeDiscord({ scenario: singleChannel({ seed: 5, messages: 20, gapRate: 0, imageRatio: 0, spacingMs: 60_000, overrides }) });
  t.teardown(() => fake.close());
  const channel = fake.scenario.guilds[0]!.channels[0]!;
  const expected = [...fake.expected({ channelId: channel.id })];
  const y = expected.find((e) => e.filename === 'y.png')!;
  const x = expected.find((e) => e.filename === 'x.png')!;
  t.not(x.sha256, y.sha256, 'two different files of the same size');
  const dir = t.testdir();
  const options = { ...baseOptions(fake, dir, channel.id), state: join(dir, 'data', 'state'), namePattern: '{date}', concurrency: 1 };

  const first = await runLibrary({ ...options, after: y.message_id });
  t.equal(first.result.exitCode, 0);
  t.same(
    first.events.filter((e) => e.event === 'saved').map((e) => (e as { filename: string }).filename),
    ['x.png'],
    'only X in the first run',
  );

  for (const log of readdirSync(options.state).filter((f) => /^\d+\.log$/.test(f))) truncateSync(join(options.state, log), 0);
  const second = await runLibrary(options);
  t.equal(second.result.exitCode, 0);
  const savedY = second.events.find((e) => e.event === 'saved' && (e as { attachment_id: string }).attachment_id === y.attachment_id) as
    | { sha256?: string }
    | undefined;
  t.equal(savedY?.sha256, y.sha256, "Y is announced with its own bytes, not X's");
  await assertExact(t, fake, options.out, options.state, channel.id);
});

// adoptExisting on its own (real LevelDB, real files): a file at the path this attachment claimed in an
// earlier run is hashed and recorded; a stop before or during the look leaves it unrecorded (it is downloaded,
// or adopted by the next run).
async function claimedFile(t: Test): Promise<{ world: Awaited<ReturnType<typeof localWorld>>; item: MediaItem; options: WriteOptions; path: string }> {
  const world = await localWorld(t);
  const options: WriteOptions = { ...world, namePattern: '{filename}' };
  const item = localItem(world.context, '91', { size: 5 });
  const { path } = await claimPath(item, options);
  world.store.releaseClaim(path, '91');
  await world.store.advanceCursor(world.context.channel_id, '1'); // a later group, awaited: the claim is written
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, 'hello');
  return { world, item, options, path };
}

t.test('adoptExisting: a complete file at its claimed path is hashed and recorded, with no download', async (t) => {
  const { world, item, options, path } = await claimedFile(t);
  t.match(await adoptExisting(item, options), { kind: 'saved', path, bytes: 5, adopted: true });
  t.match(await world.store.getAttachment('91'), { status: 'saved', path });
});

t.test('adoptExisting aborted before start: not adopted, not recorded', async (t) => {
  const { world, item, options } = await claimedFile(t);
  const controller = new AbortController();
  controller.abort();
  t.equal(await adoptExisting(item, { ...options, signal: controller.signal }), undefined);
  t.equal(await world.store.getAttachment('91'), undefined);
});

t.test('adoptExisting aborted mid-flight (once the path is claimed, before it is hashed): not recorded', async (t) => {
  const { world, item, options } = await claimedFile(t);
  const controller = new AbortController();
  const claim = world.store.claimPath.bind(world.store);
  world.store.claimPath = async (...args: Parameters<typeof claim>) => {
    const claimed = await claim(...args);
    controller.abort();
    return claimed;
  };
  t.equal(await adoptExisting(item, { ...options, signal: controller.signal }), undefined);
  t.equal(await world.store.getAttachment('91'), undefined);
});

// File times (issue 23): an adopted file gets its post time like a download; one with other names (an earlier
// run hard-linked it to a duplicate) only ever has it lowered.
t.test('adoptExisting with mtime: an adopted file of its own gets its post time', async (t) => {
  const post = '2021-06-07T08:09:10.111Z';
  const ns = BigInt(Date.parse(post)) * 1_000_000n;
  const { item, options, path } = await claimedFile(t);
  item.timestamp = post;
  await utimes(path, Date.UTC(2020, 0, 1) / 1000, Date.UTC(2020, 0, 1) / 1000); // earlier than its post: raised
  t.match(await adoptExisting(item, { ...options, mtime: true }), { kind: 'saved', adopted: true });
  const stat = await lstat(path, { bigint: true });
  t.same([stat.mtimeNs, stat.atimeNs], [ns, ns], 'its post time');
});

t.test('adoptExisting with mtime: a file with other names (hard links) only ever has its times lowered', async (t) => {
  const post = '2021-06-07T08:09:10.111Z';
  const linked = await claimedFile(t);
  linked.item.timestamp = post;
  await link(linked.path, `${linked.path}.other-name`);
  const earliest = Date.parse('2020-01-01T00:00:00.000Z');
  await utimes(linked.path, earliest / 1000, earliest / 1000);
  await adoptExisting(linked.item, { ...linked.options, mtime: true });
  t.equal(Number((await lstat(linked.path, { bigint: true })).mtimeNs / 1_000_000n), earliest, 'never raised on a shared inode');
});

t.test('adoptExisting without mtime (--no-mtime): the file keeps its times', async (t) => {
  const post = '2021-06-07T08:09:10.111Z';
  const earliest = Date.parse('2020-01-01T00:00:00.000Z');
  const off = await claimedFile(t);
  off.item.timestamp = post;
  await utimes(off.path, earliest / 1000, earliest / 1000);
  await adoptExisting(off.item, { ...off.options, mtime: false });
  t.equal(Number((await lstat(off.path, { bigint: true })).mtimeNs / 1_000_000n), earliest, 'without mtime: untouched');
});
