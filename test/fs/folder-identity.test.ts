// A folder's identity (device + inode of each component below the archive root): every way it can change is
// noticed, and removeIfOurs (removeIfSame) removes only the file we made (the bytes we wrote).
import fs from 'node:fs/promises';
import { lstatSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { OutputUnsafeError } from '../../lib/errors.js';
import { ensureDirInside } from '../../lib/fs/atomic-write.js';
import { checkFolder, folderChange, idOf, removeIfOurs, removeIfSame } from '../../lib/fs/folder-identity.js';

t.test('the identity lists every component below the root, and any change to one is noticed', async (t) => {
  const root = t.testdir({ archive: {}, outside: {} });
  const archive = path.join(root, 'archive');
  const dir = path.join(archive, 'Server_1', 'chan_2');
  const folder = await ensureDirInside(archive, dir, undefined);
  t.same(folder.paths, [path.join(archive, 'Server_1'), dir], 'the components below the root, top down');
  t.equal(folder.dir, dir);
  t.equal(folderChange(folder), undefined, 'unchanged');
  t.doesNotThrow(() => checkFolder(folder, 'create a file'));
  t.doesNotThrow(() => checkFolder(undefined, 'create a file'), 'no identity: nothing to check');

  // The channel folder swapped for a symlink to a folder outside the root.
  await fs.rename(dir, path.join(root, 'moved'));
  await fs.symlink(path.join(root, 'outside'), dir);
  t.equal(folderChange(folder), `${dir} was replaced by a symlink`);
  t.throws(() => checkFolder(folder, 'create a file'), OutputUnsafeError);
  t.throws(() => checkFolder(folder, 'create a file'), {
    code: 'DPS_OUTPUT_UNSAFE',
    message: /output folder changed during the run: .* was replaced by a symlink; refusing to create a file in it/,
  });

  // Another directory under the same name.
  await fs.unlink(dir);
  await fs.mkdir(dir);
  t.equal(folderChange(folder), `${dir} was replaced by another directory`);

  // A file under its name, or nothing at all.
  await fs.rmdir(dir);
  await fs.writeFile(dir, 'x');
  t.equal(folderChange(folder), `${dir} is no longer a directory`);
  await fs.rm(dir);
  t.equal(folderChange(folder), `${dir} is gone`);

  // A parent swapped: noticed at the parent, even though the path below it still resolves to a directory.
  await fs.rename(path.join(root, 'moved'), dir);
  t.equal(folderChange(folder), undefined, 'restored: unchanged again');
  await fs.rename(path.join(archive, 'Server_1'), path.join(root, 'server-moved'));
  await fs.mkdir(path.join(root, 'fake-server', 'chan_2'), { recursive: true });
  await fs.symlink(path.join(root, 'fake-server'), path.join(archive, 'Server_1'));
  t.equal(folderChange(folder), `${path.join(archive, 'Server_1')} was replaced by a symlink`);
});

t.test('removeIfOurs removes a file only when the path still leads to the one we made', async (t) => {
  const root = t.testdir({ ours: 'a', theirs: 'b', dir: {} });
  const ours = path.join(root, 'ours');
  const id = idOf(lstatSync(ours, { bigint: true }));
  t.equal(removeIfOurs(path.join(root, 'theirs'), id), false, 'another file under the path is left alone');
  t.equal(await fs.readFile(path.join(root, 'theirs'), 'utf8'), 'b');
  t.equal(removeIfOurs(path.join(root, 'dir'), id), false, 'a directory is left alone');
  t.equal(removeIfOurs(path.join(root, 'nothing'), id), false, 'nothing there: nothing done');
  t.equal(removeIfOurs(ours, undefined), false, 'without an identity nothing is removed');
  t.equal(removeIfOurs(ours, id), true, 'our file is removed');
  await t.rejects(fs.lstat(ours), { code: 'ENOENT' });
});

t.test('removeIfSame removes a file only when it holds exactly the bytes we wrote, never through a symlink', async (t) => {
  const root = t.testdir({ ours: '{"a":1}\n', longer: '{"a":1}\nmore', shorter: '{"a":1', other: '{"a":2}\n', dir: {} });
  const bytes = Buffer.from('{"a":1}\n');
  await fs.symlink(path.join(root, 'ours'), path.join(root, 'link'));
  t.equal(removeIfSame(path.join(root, 'other'), bytes), false, 'the same size, other bytes: left alone');
  t.equal(removeIfSame(path.join(root, 'longer'), bytes), false, 'our bytes and more: left alone');
  t.equal(removeIfSame(path.join(root, 'shorter'), bytes), false, 'a prefix of them: left alone');
  t.equal(removeIfSame(path.join(root, 'dir'), bytes), false, 'a directory is left alone');
  t.equal(removeIfSame(path.join(root, 'link'), bytes), false, 'a symlink to our bytes is left alone');
  t.equal(removeIfSame(path.join(root, 'nothing'), bytes), false, 'nothing there: nothing done');
  for (const name of ['other', 'longer', 'shorter', 'link']) t.ok((await fs.lstat(path.join(root, name))) !== undefined, `${name} is still there`);
  t.equal(removeIfSame(path.join(root, 'ours'), bytes), true, 'our bytes: removed');
  await t.rejects(fs.lstat(path.join(root, 'ours')), { code: 'ENOENT' });
});
