// Dedupe (lib/stages/dedupe.ts) on a real LevelDB and real files: a second file with bytes already archived
// becomes a hard link to the first and is recorded with duplicate_of; a first copy that changed is not linked
// to; a stop while comparing with the first copy records nothing.

import { createHash } from 'node:crypto';
import { lstat, mkdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { msArg } from '../../lib/fs/file-times.js';
import { dedupe } from '../../lib/stages/dedupe.js';
import { localItem, localWorld } from '../helpers/stage-items.js';

const bytes = Buffer.from('same bytes');
const file = { sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length };

async function twoCopies(t: Test): Promise<{ world: Awaited<ReturnType<typeof localWorld>>; a: string; b: string }> {
  const world = await localWorld(t);
  await mkdir(world.out, { recursive: true });
  const [a, b] = [join(world.out, 'a.png'), join(world.out, 'b.png')];
  await writeFile(a, bytes);
  await writeFile(b, bytes);
  return { world, a, b };
}

t.test('the first copy is recorded as new bytes; the second becomes a hard link with duplicate_of', async (t) => {
  const { world, a, b } = await twoCopies(t);
  const first = await dedupe(localItem(world.context, '31'), a, file, world);
  t.match(first, { kind: 'saved', path: a, duplicate_of: undefined });
  t.match(await world.store.getHash(file.sha256), { path: a, attachment_id: '31' });
  const second = await dedupe(localItem(world.context, '32'), b, file, world);
  t.match(second, { kind: 'saved', path: b, duplicate_of: a });
  const [x, y] = await Promise.all([lstat(a), lstat(b)]);
  t.equal(x.ino, y.ino, 'one inode');
  t.match(await world.store.getAttachment('32'), { status: 'saved', path: b, duplicate_of: a });
});

t.test('a first copy whose bytes changed is not linked to: this copy becomes the one to link to', async (t) => {
  const { world, a, b } = await twoCopies(t);
  await dedupe(localItem(world.context, '41'), a, file, world);
  await writeFile(a, 'other byte'); // same length, other bytes
  const second = await dedupe(localItem(world.context, '42'), b, file, world);
  t.equal(second.duplicate_of, undefined);
  t.equal(await readFile(b, 'utf8'), 'same bytes');
  t.match(await world.store.getHash(file.sha256), { path: b, attachment_id: '42' });
});

t.test('aborted before start: comparing with the first copy rejects; nothing recorded, the file stays', async (t) => {
  const { world, a, b } = await twoCopies(t);
  await dedupe(localItem(world.context, '51'), a, file, world);
  const controller = new AbortController();
  controller.abort();
  await t.rejects(dedupe(localItem(world.context, '52'), b, file, { ...world, signal: controller.signal }));
  t.equal(await world.store.getAttachment('52'), undefined, 'not recorded');
  t.equal(await readFile(b, 'utf8'), 'same bytes', 'the complete file stays (its claim lets the next run adopt it)');
});

t.test("aborted mid-flight (waiting for its hash's turn): rejects once its turn comes; nothing recorded", async (t) => {
  const { world, a, b } = await twoCopies(t);
  await dedupe(localItem(world.context, '61'), a, file, world);
  let release!: () => void;
  let entered!: () => void;
  const inside = new Promise<void>((resolve) => (entered = resolve));
  const held = world.locks.run(`sha256:${file.sha256}`, () => {
    entered();
    return new Promise<void>((resolve) => {
      release = resolve;
    });
  });
  await inside;
  const controller = new AbortController();
  const waiting = dedupe(localItem(world.context, '62'), b, file, { ...world, signal: controller.signal });
  controller.abort();
  release();
  await held;
  await t.rejects(waiting);
  t.equal(await world.store.getAttachment('62'), undefined, 'not recorded');
});

// File times (issue 23). Each copy arrives with its own post time (the disk thread sets it); linking makes the
// names share the first copy's inode, whose times are then the earliest post among them: lowered, never raised.
const ms = (iso: string): number => Date.parse(iso);
const nsOf = async (file: string): Promise<bigint[]> => {
  const stat = await lstat(file, { bigint: true });
  return [stat.mtimeNs, stat.atimeNs];
};
const at = (iso: string): bigint[] => [BigInt(ms(iso)) * 1_000_000n, BigInt(ms(iso)) * 1_000_000n];

async function timedCopies(t: Test, first: string, second: string) {
  const { world, a, b } = await twoCopies(t);
  await utimes(a, msArg(ms(first)), msArg(ms(first)));
  await utimes(b, msArg(ms(second)), msArg(ms(second)));
  return { world, a, b };
}

t.test('mtime: a duplicate posted earlier than the first copy lowers the shared inode to its post time', async (t) => {
  const [later, earlier] = ['2023-05-05T05:05:05.555Z', '2021-01-01T01:01:01.111Z'];
  const { world, a, b } = await timedCopies(t, later, earlier);
  const options = { ...world, mtime: true };
  await dedupe(localItem(world.context, '71', { timestamp: later }), a, file, options);
  const second = await dedupe(localItem(world.context, '72', { timestamp: earlier }), b, file, options);
  t.equal(second.duplicate_of, a, 'linked');
  t.same(await nsOf(a), at(earlier), 'the first name shows the earliest post');
  t.same(await nsOf(b), at(earlier));
});

t.test('mtime: a duplicate posted later never raises the inode; its atime, moved by the hash check, is put back', async (t) => {
  const [earlier, later] = ['2021-01-01T01:01:01.111Z', '2023-05-05T05:05:05.555Z'];
  const { world, a, b } = await timedCopies(t, earlier, later);
  const options = { ...world, mtime: true };
  await dedupe(localItem(world.context, '81', { timestamp: earlier }), a, file, options);
  await utimes(a, Date.now() / 1000, msArg(ms(earlier))); // as a read under relatime moves it
  await dedupe(localItem(world.context, '82', { timestamp: later }), b, file, options);
  t.same(await nsOf(b), at(earlier), 'still the first post');
});

t.test('without mtime (--no-mtime) linking changes no time; a malformed timestamp changes none either', async (t) => {
  const [later, earlier] = ['2023-05-05T05:05:05.555Z', '2021-01-01T01:01:01.111Z'];
  for (const [mtime, timestamp] of [
    [false, earlier],
    [true, 'garbage'],
  ] as const) {
    await t.test(`mtime ${mtime}, timestamp ${timestamp}`, async (t) => {
      const { world, a, b } = await timedCopies(t, later, earlier);
      await dedupe(localItem(world.context, '91', { timestamp: later }), a, file, { ...world, mtime });
      const before = (await lstat(a, { bigint: true })).mtimeNs;
      await dedupe(localItem(world.context, '92', { timestamp }), b, file, { ...world, mtime });
      t.equal((await lstat(b, { bigint: true })).mtimeNs, before, 'the inode keeps its time');
    });
  }
});

t.test('mtime: a first copy that changed is not linked to; the new copy keeps its own post time', async (t) => {
  const [later, earlier] = ['2023-05-05T05:05:05.555Z', '2021-01-01T01:01:01.111Z'];
  const { world, a, b } = await timedCopies(t, earlier, later);
  await dedupe(localItem(world.context, '95', { timestamp: earlier }), a, file, { ...world, mtime: true });
  await writeFile(a, 'other byte');
  await dedupe(localItem(world.context, '96', { timestamp: later }), b, file, { ...world, mtime: true });
  t.same(await nsOf(b), at(later));
});
