// JSON sidecars (lib/fs/sidecar.ts), written by a real disk thread: a final name only ever holds a complete
// sidecar (a process killed at any moment leaves complete sidecars and temps, which the next run's sweep
// removes), a file dps did not write is never replaced, a symlink at the name is refused, and the caller's own
// earlier sidecar is replaced.

import t from 'tap';
import type { Test } from 'tap';
import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { removeStaleTemps, TEMP_SUFFIX } from '../../lib/fs/atomic-write.js';
import { writeSidecar } from '../../lib/fs/sidecar.js';
import type { SidecarOptions } from '../../lib/fs/sidecar.js';
import { ROOT } from '../helpers/harness.js';
import { diskFor } from '../helpers/stage-items.js';

const never = async (): Promise<boolean> => false;
const always = async (): Promise<boolean> => true;

function options(t: Test, root: string, mayReplace: SidecarOptions['mayReplace']): SidecarOptions {
  return { disk: diskFor(t), root, folders: new Map(), mayReplace };
}

t.test('written whole under its name, no temp left', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'sub', 'a.png.json');
  const text = `${JSON.stringify({ content: 'x'.repeat(100_000) })}\n`;
  t.equal(await writeSidecar(file, text, options(t, dir, never)), 'written');
  t.equal(await readFile(file, 'utf8'), text);
  t.same(await readdir(join(dir, 'sub')), ['a.png.json'], 'no temp left');
});

t.test('a file dps did not write is never replaced; its own earlier sidecar is', async (t) => {
  const dir = t.testdir({ 'user.json': 'precious' });
  t.equal(await writeSidecar(join(dir, 'user.json'), '{}\n', options(t, dir, never)), 'taken');
  t.equal(await readFile(join(dir, 'user.json'), 'utf8'), 'precious', 'untouched');
  t.equal(await writeSidecar(join(dir, 'user.json'), '{"v":2}\n', options(t, dir, always)), 'written');
  t.equal(await readFile(join(dir, 'user.json'), 'utf8'), '{"v":2}\n', 'replaced when the caller vouches it is its own');
  await mkdir(join(dir, 'folder.json'));
  t.equal(await writeSidecar(join(dir, 'folder.json'), '{}\n', options(t, dir, always)), 'taken', 'a folder at the name: taken');
  t.same((await readdir(dir)).sort(), ['folder.json', 'user.json'], 'no temp left');
});

t.test('a symlink at the name is refused, never followed', async (t) => {
  const dir = t.testdir({ target: 'outside' });
  await symlink(join(dir, 'target'), join(dir, 'link.json'));
  await t.rejects(writeSidecar(join(dir, 'link.json'), '{}\n', options(t, dir, always)), /symlink/);
  t.equal(await readFile(join(dir, 'target'), 'utf8'), 'outside');
});

t.test('a process killed while writing sidecars leaves complete ones and temps (swept), never a partial sidecar', async (t) => {
  const top = t.testdir({ out: {} });
  const dir = join(top, 'out');
  const thread = pathToFileURL(join(ROOT, 'dist', 'lib', 'fs', 'disk-thread.js')).href;
  const module = pathToFileURL(join(ROOT, 'dist', 'lib', 'fs', 'sidecar.js')).href;
  // Sidecars of 1 MiB (two batches each), eight at once, until killed; each name is printed once written.
  const script = `
    const { DiskThread } = await import(${JSON.stringify(thread)});
    const { writeSidecar } = await import(${JSON.stringify(module)});
    const disk = new DiskThread();
    const text = JSON.stringify({ content: 'x'.repeat(1 << 20) });
    for (let n = 0; ; n += 8) {
      await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map(async (i) => {
        const file = ${JSON.stringify(dir)} + '/' + (n + i) + '.json';
        await writeSidecar(file, text, { disk, root: ${JSON.stringify(dir)}, mayReplace: async () => false });
        process.stdout.write(file + '\\n');
      }));
    }`;
  await writeFile(join(top, 'writer.mjs'), script); // a file: the disk thread's worker refuses --input-type
  const child = spawn(process.execPath, [join(top, 'writer.mjs')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  const reported: string[] = [];
  for await (const line of createInterface({ input: child.stdout })) {
    if (reported.push(line) === 20) child.kill('SIGKILL'); // mid-stream: other sidecars are being written
  }
  t.equal(await exited, 'SIGKILL');
  const names = await readdir(dir);
  const sidecars = names.filter((name) => name.endsWith('.json'));
  for (const file of reported) t.ok(sidecars.includes(file.slice(dir.length + 1)), `${file} is there`);
  for (const name of sidecars) {
    const text = await readFile(join(dir, name), 'utf8');
    t.equal(text.length, (1 << 20) + 14, `${name} is complete`);
  }
  t.equal(names.length - sidecars.length, await removeStaleTemps(dir), 'the rest are temps, and the sweep removes them');
  await writeFile(join(dir, 'keep'), '');
  t.same(
    (await readdir(dir)).filter((name) => !name.endsWith('.json')),
    ['keep'],
  );
  t.ok(names.every((name) => name.endsWith('.json') || name.endsWith(TEMP_SUFFIX)));
});
