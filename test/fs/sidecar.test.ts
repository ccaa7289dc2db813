// JSON sidecars (lib/fs/sidecar.ts): a final name only ever holds a complete sidecar (the temp takes it at the
// end; a process killed mid-write leaves only a temp, which the next run's sweep removes), a file dps did not
// write is never replaced, a symlink at the name is refused, and the caller's own earlier sidecar is replaced.

import t from 'tap';
import { spawnSync } from 'node:child_process';
import { lstat, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { removeStaleTemps, TEMP_SUFFIX } from '../../lib/fs/atomic-write.js';
import { writeSidecar } from '../../lib/fs/sidecar.js';
import { ROOT } from '../helpers/harness.js';

const never = async (): Promise<boolean> => false;
const always = async (): Promise<boolean> => true;

t.test('written whole under its name; nothing under the name until the bytes are complete and synced', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'a.png.json');
  const text = `${JSON.stringify({ content: 'x'.repeat(100_000) })}\n`;
  let sawTemp = false;
  const placed = await writeSidecar(file, text, {
    mayReplace: never,
    beforePlace: async () => {
      await t.rejects(lstat(file), { code: 'ENOENT' }, 'the final name does not exist before the temp is complete');
      const temps = (await readdir(dir)).filter((f) => f.endsWith(TEMP_SUFFIX));
      t.equal(temps.length, 1);
      t.equal(await readFile(join(dir, temps[0]!), 'utf8'), text, 'the temp holds every byte');
      sawTemp = true;
    },
  });
  t.ok(sawTemp);
  t.equal(placed, 'written');
  t.equal(await readFile(file, 'utf8'), text);
  t.same(await readdir(dir), ['a.png.json'], 'no temp left');
});

t.test('a file dps did not write is never replaced; its own earlier sidecar is', async (t) => {
  const dir = t.testdir({ 'user.json': 'precious' });
  t.equal(await writeSidecar(join(dir, 'user.json'), '{}\n', { mayReplace: never }), 'taken');
  t.equal(await readFile(join(dir, 'user.json'), 'utf8'), 'precious', 'untouched');
  t.equal(await writeSidecar(join(dir, 'user.json'), '{"v":2}\n', { mayReplace: always }), 'written');
  t.equal(await readFile(join(dir, 'user.json'), 'utf8'), '{"v":2}\n', 'replaced when the caller vouches it is its own');
  await mkdir(join(dir, 'folder.json'));
  t.equal(await writeSidecar(join(dir, 'folder.json'), '{}\n', { mayReplace: always }), 'taken', 'a folder at the name: taken');
  t.same((await readdir(dir)).sort(), ['folder.json', 'user.json'], 'no temp left');
});

t.test('a symlink at the name is refused, never followed', async (t) => {
  const dir = t.testdir({ target: 'outside' });
  await symlink(join(dir, 'target'), join(dir, 'link.json'));
  await t.rejects(writeSidecar(join(dir, 'link.json'), '{}\n', { mayReplace: always }), /symlink/);
  t.equal(await readFile(join(dir, 'target'), 'utf8'), 'outside');
});

t.test('a process killed mid-write leaves only a temp (swept by the next run), never a partial sidecar', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'b.png.json');
  const module = pathToFileURL(join(ROOT, 'dist', 'lib', 'fs', 'sidecar.js')).href;
  const script = `
    const { writeSidecar } = await import(${JSON.stringify(module)});
    await writeSidecar(${JSON.stringify(file)}, 'x'.repeat(1 << 20), {
      mayReplace: async () => false,
      beforePlace: async () => process.kill(process.pid, 'SIGKILL'),
    });`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script]);
  t.equal(child.signal, 'SIGKILL', String(child.stderr));
  await t.rejects(lstat(file), { code: 'ENOENT' }, 'no sidecar under its final name');
  const left = await readdir(dir);
  t.equal(left.length, 1);
  t.ok(left[0]!.endsWith(TEMP_SUFFIX), 'only a temp');
  t.equal(await removeStaleTemps(dir), 1, 'the sweep removes it');
  await writeFile(join(dir, 'keep'), '');
  t.same(await readdir(dir), ['keep']);
});
