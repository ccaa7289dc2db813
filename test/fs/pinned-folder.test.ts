// A checked folder held open (lib/fs/pinned-folder.ts): calls through its descriptor reach the checked directory
// even while its path leads elsewhere, and a folder that is no longer the checked one cannot be held.
import fs from 'node:fs/promises';
import { linkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { ensureDirInside } from '../../lib/fs/atomic-write.js';
import { holdFolder } from '../../lib/fs/pinned-folder.js';

t.test('files made through a held folder land in it while its path is a symlink elsewhere', async (t) => {
  const root = t.testdir({ archive: {}, outside: {} });
  const archive = path.join(root, 'archive');
  const dir = path.join(archive, 'Server_1', 'chan_2');
  const folder = await ensureDirInside(archive, dir, undefined);
  const pin = holdFolder(folder);
  t.teardown(() => pin.release());
  if (!pin.pinned) return t.pass('no /proc/self/fd here: paths are used as given');
  await fs.rename(dir, path.join(root, 'moved'));
  await fs.symlink(path.join(root, 'outside'), dir);
  writeFileSync(pin.at(path.join(dir, '.temp')), 'bytes', { flag: 'wx' });
  linkSync(pin.at(path.join(dir, '.temp')), pin.at(path.join(dir, 'a.png')));
  t.same(await fs.readdir(path.join(root, 'outside')), [], 'nothing outside the archive');
  t.same((await fs.readdir(path.join(root, 'moved'))).sort(), ['.temp', 'a.png'], 'both names in the checked folder');
  t.equal(pin.at(path.join(archive, 'other.png')), path.join(archive, 'other.png'), 'a file of another folder keeps its path');
});

t.test('a folder that is a symlink or another directory cannot be held', async (t) => {
  const root = t.testdir({ archive: {}, outside: {} });
  const archive = path.join(root, 'archive');
  const dir = path.join(archive, 'chan');
  const folder = await ensureDirInside(archive, dir, undefined);
  await fs.rename(dir, path.join(root, 'moved'));
  await fs.symlink(path.join(root, 'outside'), dir);
  t.throws(() => holdFolder(folder), { code: 'DPS_OUTPUT_UNSAFE', message: /replaced by a symlink/ });
  await fs.unlink(dir);
  await fs.mkdir(dir);
  t.throws(() => holdFolder(folder), { code: 'DPS_OUTPUT_UNSAFE', message: /replaced by another directory/ });
  await fs.rmdir(dir);
  t.throws(() => holdFolder(folder), { code: 'DPS_OUTPUT_UNSAFE', message: /is gone/ });
});

t.test('at(): a name in the held folder goes through its descriptor however its path is spelt; any other path is kept', async (t) => {
  const root = t.testdir({ archive: { chan_2: { sub: {} } } });
  const dir = path.join(root, 'archive', 'chan_2');
  const folder = await ensureDirInside(path.join(root, 'archive'), dir, undefined);
  const pin = holdFolder(folder);
  t.teardown(() => pin.release());
  if (!pin.pinned) return t.pass('no /proc/self/fd here: paths are used as given');
  const through = (name: string): string => `/proc/self/fd/${pin.fd}/${name}`;
  t.equal(pin.at(`${dir}/a.png`), through('a.png'));
  t.equal(pin.at(`${dir}/.dps-tmp-1.part`), through('.dps-tmp-1.part'));
  t.equal(pin.at(`${dir}//a.png`), through('a.png'), 'a doubled slash');
  t.equal(pin.at(`${dir}/./a.png`), through('a.png'), 'a `.` segment');
  t.equal(pin.at(`${dir}/sub/../a.png`), through('a.png'), 'a `..` segment back into the folder');
  t.equal(pin.at(`${dir}/sub/`), through('sub'), 'a subfolder, as a name in the folder');
  t.equal(pin.at(`${dir}/sub/a.png`), `${dir}/sub/a.png`, 'a file of a subfolder keeps its path');
  t.equal(pin.at(`${dir}xa.png`), `${dir}xa.png`, 'a name beside the folder that starts like it keeps its path');
  t.equal(pin.at(`${dir}x/a.png`), `${dir}x/a.png`, 'a file of a sibling folder whose name starts alike keeps its path');
  t.equal(pin.at(dir), dir, 'the folder path itself is kept');
});
