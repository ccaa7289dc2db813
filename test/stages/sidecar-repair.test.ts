// The repair after a machine crash (stages/sidecar-repair.ts) replaces a broken sidecar, and never a file another
// attachment of the archive claims at that name, even when the state's index of `.json` claims (Store.claimOf)
// does not list that claim: a dps older than the index may have written it.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { MemoryLevel } from 'memory-level';
import t from 'tap';
import { record } from '../helpers/records.js';
import { DiskThread } from '../../lib/fs/disk-thread.js';
import { repairSidecars } from '../../lib/stages/sidecar-repair.js';
import { createStore } from '../../lib/store/open.js';

t.test('repair: a broken sidecar is written again; a file claimed by another attachment is left alone, indexed or not', async (t) => {
  const out = t.testdir({ chan: {} });
  const db = new MemoryLevel<string, unknown>();
  const store = await createStore(db);
  const disk = new DiskThread();
  t.teardown(async () => {
    await disk.close();
    await store.close();
  });
  const since = new Date(Date.now() - 60_000).toISOString();
  const now = new Date().toISOString();
  const saved = async (id: string, file: string): Promise<void> => {
    writeFileSync(file, `bytes of ${id}`);
    await store.recordSaved({ ...record(id), status: 'saved', path: file, sha256: `sha-${id}`, bytes: 3, updated_at: now });
  };
  const a = path.join(out, 'chan', 'a.png');
  const b = path.join(out, 'chan', 'b.png');
  await saved('att-a', a);
  await saved('att-b', b);
  // b.png.json: a broken sidecar (a crash cut it short). a.png.json: an attachment literally named so, whose claim
  // an older dps wrote after the index was built (the index is built here, then the claim put beside it).
  writeFileSync(`${b}.json`, '{\n  "message_id": "1');
  t.equal(await store.claimOf(path.join(out, 'chan', 'x.json')), undefined, 'the index is built');
  await store.writesDone();
  await db.sublevel<string, string>('path', { valueEncoding: 'json' }).put(`${a}.json`.toLowerCase(), 'att-named-json');
  writeFileSync(`${a}.json`, 'the bytes of an attachment named a.png.json');
  t.equal(await store.claimOf(`${a}.json`), undefined, 'the index does not know that claim');

  const { checked, repaired } = await repairSidecars({ since, out }, { store, disk });
  t.equal(checked, 2);
  t.equal(repaired, 1);
  t.same(JSON.parse(readFileSync(`${b}.json`, 'utf8')).attachment_id, 'att-b', "b's sidecar written again from its record");
  t.equal(readFileSync(`${a}.json`, 'utf8'), 'the bytes of an attachment named a.png.json', 'the claimed file is left alone');
});
