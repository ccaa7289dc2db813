// What atomic-write.ts keeps beside the disk thread (whose write contract test/fs/disk-thread.test.ts checks):
// duplicates hard-linked atomically, the sweep of a crashed run's temp files, the file check, folder checks.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { ensureDirInside, fileMatches, linkDuplicate, removeStaleTemps } from '../../lib/fs/atomic-write.js';
import type { FolderCache } from '../../lib/fs/atomic-write.js';

const sha = (data: Uint8Array | string): string => createHash('sha256').update(data).digest('hex');

const tempsIn = async (dir: string): Promise<string[]> => (await fs.readdir(dir)).filter((n) => n.endsWith('.dps-tmp'));

t.test('linkDuplicate hard-links, is idempotent, replaces other files', async (t) => {
  const root = t.testdir({ 'first.png': 'same bytes', 'taken.png': 'stale', target: 'keep' });
  const first = path.join(root, 'first.png');
  const dup = path.join(root, 'dup.png');
  t.equal(await linkDuplicate(first, dup), 'linked');
  const [a, b] = await Promise.all([fs.stat(first), fs.stat(dup)]);
  t.equal(a.ino, b.ino, 'same inode');
  t.equal(a.nlink, 2);
  t.equal(await linkDuplicate(first, dup), 'linked', 'already linked is fine');
  t.equal(await linkDuplicate(first, path.join(root, 'taken.png')), 'linked');
  t.equal(await fs.readFile(path.join(root, 'taken.png'), 'utf8'), 'same bytes');
  await fs.symlink(path.join(root, 'target'), path.join(root, 'sym.png'));
  await t.rejects(linkDuplicate(first, path.join(root, 'sym.png')), { message: /symlink/ });
  await t.rejects(linkDuplicate(path.join(root, 'missing.png'), path.join(root, 'x.png')), { code: 'ENOENT' });
  t.same(await tempsIn(root), []);
});

t.test('linkDuplicate across devices returns referenced', { skip: !existsSync('/dev/shm') && 'no /dev/shm' }, async (t) => {
  const root = t.testdir({ 'a.png': 'x' });
  const shm = await fs.mkdtemp('/dev/shm/dps-test-').catch(() => undefined);
  if (shm === undefined) return t.pass('skipped: cannot write /dev/shm');
  t.teardown(() => fs.rm(shm, { recursive: true, force: true }));
  const [rootStat, shmStat] = await Promise.all([fs.stat(root), fs.stat(shm)]);
  if (rootStat.dev === shmStat.dev) return t.pass('skipped: same device');
  t.equal(await linkDuplicate(path.join(root, 'a.png'), path.join(shm, 'a.png')), 'referenced');
  t.same(await fs.readdir(shm), [], 'nothing created');
});

t.test('removeStaleTemps deletes temp files only, without following symlinks', async (t) => {
  const root = t.testdir({
    outside: { '.0123456789abcdef01234567.dps-tmp': 'not ours to touch' },
    archive: {
      '.aaaaaaaaaaaaaaaaaaaaaaaa.dps-tmp': 'x',
      'keep.png': 'y',
      'user.dps-tmp': 'a file a user named like this is not ours',
      s: { c: { '.bbbbbbbbbbbbbbbbbbbbbbbb.dps-tmp': 'z', 'k.png': 'k' } },
    },
  });
  const archive = path.join(root, 'archive');
  await fs.symlink(path.join(root, 'outside'), path.join(archive, 'link'));
  t.equal(await removeStaleTemps(archive), 2);
  t.same((await fs.readdir(archive)).sort(), ['keep.png', 'link', 's', 'user.dps-tmp']);
  t.same(await fs.readdir(path.join(archive, 's', 'c')), ['k.png']);
  t.same(await fs.readdir(path.join(root, 'outside')), ['.0123456789abcdef01234567.dps-tmp']);
  t.equal(await removeStaleTemps(path.join(root, 'missing')), 0);
  await t.rejects(removeStaleTemps(archive, AbortSignal.abort()), { name: 'AbortError' });
});

t.test('fileMatches', async (t) => {
  const root = t.testdir({ 'a.png': 'hello' });
  const file = path.join(root, 'a.png');
  t.equal(await fileMatches(file, 5), true);
  t.equal(await fileMatches(file, 6), false);
  t.equal(await fileMatches(file, 5, sha('hello')), true);
  t.equal(await fileMatches(file, 5, sha('jello')), false);
  t.equal(await fileMatches(path.join(root, 'nope'), 5), false);
  t.equal(await fileMatches(root, 0), false, 'a directory is not a match');
});

t.test('a folder cache checks each folder once per run, never caches a refusal, and still refuses symlinks', async (t) => {
  const root = t.testdir({ outside: {}, archive: {} });
  const archive = path.join(root, 'archive');
  const folders: FolderCache = new Map();
  await fs.symlink(path.join(root, 'outside'), path.join(archive, 'server'));
  const target = path.join(archive, 'server', 'channel');
  await t.rejects(ensureDirInside(archive, target, folders), { message: /symlink/ });
  t.equal(folders.size, 0, 'a refused folder is not remembered');
  await fs.unlink(path.join(archive, 'server'));
  const first = ensureDirInside(archive, target, folders);
  t.equal(folders.size, 1, 'the checked folder is remembered');
  t.equal(ensureDirInside(archive, target, folders), first, 'and reused');
  t.same((await first).dir, target);
  t.ok(existsSync(target), 'created');
  t.same(await fs.readdir(path.join(root, 'outside')), [], 'nothing ever written outside');
});

// A folder swapped for a symlink to a folder outside the root after it was checked (issue 20, item 16):
// linkDuplicate re-checks it right before it links or renames anything.
t.test('a folder swapped for a symlink after its check: no link goes through it', async (t) => {
  const root = t.testdir({ archive: {}, outside: {} });
  const archive = path.join(root, 'archive');
  const outside = path.join(root, 'outside');
  const moved = path.join(root, 'moved');
  const dir = path.join(archive, 'Server_1', 'chan_2');
  const folder = await ensureDirInside(archive, dir, new Map());
  await fs.writeFile(path.join(dir, 'a.bin'), 'bytes');
  await fs.rename(dir, moved);
  await fs.symlink(outside, dir);
  await t.rejects(
    linkDuplicate(path.join(moved, 'a.bin'), path.join(dir, 'c.bin'), folder),
    { name: 'OutputUnsafeError', message: /refusing to link a file/ },
    'no hard link',
  );
  t.same(await fs.readdir(outside), [], 'nothing at all was written outside the root');
  t.same(await fs.readdir(moved), ['a.bin'], 'the real folder is untouched');
  await fs.unlink(dir);
  await fs.rename(moved, dir);
  t.equal(await linkDuplicate(path.join(dir, 'a.bin'), path.join(dir, 'c.bin'), folder), 'linked', 'restored, the folder takes files again');
  t.same((await fs.readdir(dir)).sort(), ['a.bin', 'c.bin']);
});
