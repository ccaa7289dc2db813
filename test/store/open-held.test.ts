// A state held by another process is refused before LevelDB touches it: LevelDB rotates a database's info log
// (LOG to LOG.old, a new LOG) before it tries the lock, which would take away the holder's log (read after its
// open by lib/run-damage-check.ts). openStore tries the lock first on a linked LOCK in a sibling folder.

import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { openStore } from '../../lib/store/open.js';

const run = promisify(execFile);

// openStore(dir) in another process, as a second `dps` would: its error code, or `opened`.
async function openElsewhere(dir: string): Promise<string> {
  const storeModule = new URL('../../lib/store/open.ts', import.meta.url).href;
  const script = `import(${JSON.stringify(storeModule)}).then((m) => m.openStore(${JSON.stringify(dir)})).then(
    (store) => store.close().then(() => console.log('opened')), (e) => console.log(e.code))`;
  const tsLoader = process.execArgv.filter((arg) => !arg.startsWith('--inspect'));
  const { stdout } = await run(process.execPath, [...tsLoader, '--input-type=module', '-e', script], { timeout: 60_000 });
  return stdout.trim().split('\n').pop() ?? '';
}

// Every file of the folder: its bytes and modification time (LOCK's only: this process holds the lock, and
// closing any descriptor of that file would drop it).
async function filesOf(dir: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const name of (await fs.readdir(dir)).sort()) {
    const file = path.join(dir, name);
    const stat = await fs.stat(file);
    if (name === 'LOCK') {
      files[name] = String(stat.mtimeMs);
      continue;
    }
    files[name] = `${(await fs.readFile(file)).toString('base64')} ${stat.mtimeMs}`;
  }
  return files;
}

t.test('a refused open leaves the held state as it was: its LOG is not rotated', async (t) => {
  const root = t.testdir();
  const dir = path.join(root, 'state');
  const first = await openStore(dir);
  await first.close();
  const holder = await openStore(dir); // opened twice: LOG and LOG.old both exist
  let held = true;
  t.teardown(() => held && holder.close());
  const before = await filesOf(dir);
  t.ok('LOG' in before && 'LOG.old' in before, 'the state has its info logs');

  t.equal(await openElsewhere(dir), 'DPS_STORE_LOCKED', 'another process is refused');
  t.equal(await openElsewhere(dir), 'DPS_STORE_LOCKED', 'twice');
  t.same(await filesOf(dir), before, 'every file of the state as it was (LOG and LOG.old included)');
  t.same(await fs.readdir(root), ['state'], 'no probe folder left beside it');

  await holder.close();
  held = false;
  t.equal(await openElsewhere(dir), 'opened', 'once it is free, another process opens it');
  t.same(await fs.readdir(root), ['state'], 'and leaves no probe folder either');
});

t.test('two opens at once in one process: one is refused, and the other keeps the lock', async (t) => {
  const dir = path.join(t.testdir(), 'state');
  await (await openStore(dir)).close();
  const opened = await Promise.allSettled([openStore(dir), openStore(dir)]);
  const stores = opened.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
  t.teardown(() => Promise.all(stores.map((s) => s.close())));
  t.equal(stores.length, 1, 'one opens');
  t.match(
    opened.find((o) => o.status === 'rejected'),
    { reason: { code: 'DPS_STORE_LOCKED' } },
    'the other is refused',
  );
  t.equal(await openElsewhere(dir), 'DPS_STORE_LOCKED', 'and the state is still locked against another process');
});
