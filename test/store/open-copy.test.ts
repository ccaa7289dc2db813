// A dry run's state (openStoreCopy): a throwaway copy of the state's files, so the state keeps every byte even
// though LevelDB rewrites what it opens and the dry run writes to the copy; a missing state is not created; the
// same refusals as openStore (a file, a foreign folder or database, a state in use).

import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Level } from 'level';
import t from 'tap';
import { openStore, openStoreCopy } from '../../lib/store/open.js';
import { record } from '../helpers/records.js';

async function bytesOf(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await readdir(dir)).sort())
    out[name] = createHash('sha256')
      .update(await readFile(join(dir, name)))
      .digest('hex');
  return out;
}

t.test('a missing state is an empty copy, and nothing is created', async (t) => {
  const state = join(t.testdir(), 'nested', 'state');
  const copy = await openStoreCopy(state);
  t.equal(await copy.store.getChannel('1'), undefined, 'empty');
  await copy.store.recordFailed(record('a1'));
  await copy.store.close();
  await copy.remove();
  t.notOk(existsSync(join(state, '..')), 'neither the state nor its parent folder is created');
  t.notOk(existsSync(copy.location), 'the copy is removed');
  await t.rejects(openStoreCopy(state, { mustExist: true }), { code: 'DPS_NO_STATE' }, 'unless it must exist (retry-failed)');
});

t.test('an existing state: read through the copy, written only in the copy, left byte for byte', async (t) => {
  const state = join(t.testdir(), 'state');
  const store = await openStore(state);
  await store.recordFailed(record('a1'));
  await store.close();
  const before = await bytesOf(state);
  const copy = await openStoreCopy(state);
  const failed: string[] = [];
  for await (const entry of copy.store.failedItems()) failed.push(entry.attachment_id);
  t.same(failed, ['a1'], 'the copy holds the state');
  await copy.store.recordFailed(record('a2'));
  await copy.store.claimPath(join(state, 'x.png'), 'a2', true);
  await copy.store.close();
  await copy.remove();
  t.same(await bytesOf(state), before, 'every file of the state keeps its bytes');
  const reopened = await openStore(state);
  const after: string[] = [];
  for await (const entry of reopened.failedItems()) after.push(entry.attachment_id);
  await reopened.close();
  t.same(after, ['a1'], 'what was written went to the copy only');
});

t.test('the same refusals as a real run', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'file');
  await writeFile(file, 'x');
  await t.rejects(openStoreCopy(file), { code: 'DPS_STORE_CORRUPT' }, 'a file');
  const other = join(dir, 'other');
  await mkdir(other);
  await writeFile(join(other, 'notes.txt'), 'mine');
  await t.rejects(openStoreCopy(other), { code: 'DPS_STORE_CORRUPT' }, 'a folder of something else');
  const foreign = join(dir, 'foreign');
  const db = new Level(foreign);
  await db.put('key', 'value');
  await db.close();
  const before = await bytesOf(foreign);
  await t.rejects(openStoreCopy(foreign), { code: 'DPS_STORE_CORRUPT' }, 'a database that is not a dps state');
  t.same(await bytesOf(foreign), before, 'which is left as it was');
  const state = join(dir, 'state');
  const held = await openStore(state);
  await t.rejects(openStoreCopy(state), { code: 'DPS_STORE_LOCKED' }, 'a state this process holds');
  await held.close();
  const copy = await openStoreCopy(state);
  await copy.store.close();
  await copy.remove();
  t.pass('and opens once it is released');
});
