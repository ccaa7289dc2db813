// Store.claimOf answers a name ending in `.json` (every sidecar's, --write-metadata) from an index of such claims
// held in memory: it must answer what the claims themselves say, for a state written before the index existed,
// for claims this process writes, and after the state is opened again.
import path from 'node:path';
import { MemoryLevel } from 'memory-level';
import t from 'tap';
import { record } from '../helpers/records.js';
import { createStore, openStore } from '../../lib/store/open.js';
import { Store } from '../../lib/store/store.js';
import type { SavedRecord } from '../../lib/store/store.js';

function saved(id: string, file: string): SavedRecord {
  return { ...record(id), status: 'saved', path: file, sha256: `sha-${id}`, bytes: 3 };
}

t.test('claimOf: claims of .json names in a state written before the index are found (one pass over the claims)', async (t) => {
  const db = new MemoryLevel<string, unknown>();
  const store = await createStore(db);
  // What an earlier dps wrote: claims only, no index of them.
  const claims = db.sublevel<string, string>('path', { valueEncoding: 'json' });
  await claims.put('archive/a.png.json', 'att-a');
  await claims.put('archive/b.png', 'att-b');
  await claims.put('archive/upper.json', 'att-u');
  t.equal(await store.claimOf('archive/a.png.json'), 'att-a');
  t.equal(await store.claimOf('archive/Upper.JSON'), 'att-u', 'compared as names are (pathKey)');
  t.equal(await store.claimOf('archive/b.png.json'), undefined);
  t.equal(await store.claimOf('archive/b.png'), 'att-b', 'other names are read as before');
  await store.writesDone();
  // The index written by that pass: a store opened on it later reads the index alone.
  const index = db.sublevel<string, string>('pathjson', { valueEncoding: 'json' });
  t.same((await index.keys().all()).sort(), ['archive/a.png.json', 'archive/upper.json']);
  const again = new Store(db);
  t.equal(await again.claimOf('archive/a.png.json'), 'att-a');
  t.equal(await again.claimOf('archive/upper.json'), 'att-u');
  t.equal(await again.claimOf('archive/c.png.json'), undefined);
  await again.close();
});

t.test('claimOf: .json claims written by this process are found, then and after the state is opened again', async (t) => {
  const dir = path.join(t.testdir(), 'state');
  const store = await openStore(dir);
  t.equal(await store.claimOf('archive/x.png.json'), undefined, 'the index is read (empty) before the claims below');
  // A download's claim, persisted and then forgotten by this process (its record written elsewhere).
  t.equal(await store.claimPath('archive/x.png.json', 'att-x', true), true);
  store.releaseClaim('archive/x.png.json', 'att-x');
  // A saved file's record whose name ends in .json, and a reference (a forward) at such a name.
  await store.recordSaved(saved('att-y', 'archive/y.png.json'));
  await store.recordReference({ ...saved('att-z', 'archive/z.gif.json'), message_id: 'm-forward', duplicate_of: 'archive/z.gif' });
  await store.writesDone();
  t.equal(await store.claimOf('archive/x.png.json'), 'att-x', 'a persisted claim no longer held in memory');
  t.equal(await store.claimOf('archive/y.png.json'), 'att-y');
  t.equal(await store.claimOf('archive/z.gif.json'), 'att-z!m-forward');
  await store.close();
  const reopened = await openStore(dir);
  t.equal(await reopened.claimOf('archive/x.png.json'), 'att-x');
  t.equal(await reopened.claimOf('archive/y.png.json'), 'att-y');
  t.equal(await reopened.claimOf('ARCHIVE/Z.GIF.JSON'), 'att-z!m-forward');
  t.equal(await reopened.claimOf('archive/w.png.json'), undefined);
  await reopened.close();
});

t.test('claimOf: an index that cannot be read costs a read of the claims, and is tried again', async (t) => {
  const db = new MemoryLevel<string, unknown>();
  // The claims' first pass fails (a read error), once.
  let failures = 1;
  const sublevel = db.sublevel.bind(db) as (name: string, options: object) => ReturnType<typeof db.sublevel>;
  (db as { sublevel: unknown }).sublevel = (name: string, options: object) => {
    const sub = sublevel(name, options);
    if (name !== 'path') return sub;
    const keys = sub.keys.bind(sub);
    (sub as { keys: unknown }).keys = (...args: Parameters<typeof keys>) => {
      if (failures-- > 0) throw new Error('read error');
      return keys(...args);
    };
    return sub;
  };
  const store = await createStore(db);
  await store.claimPath('archive/a.png.json', 'att-a', true);
  store.releaseClaim('archive/a.png.json', 'att-a');
  await store.writesDone();
  t.equal(await store.claimOf('archive/a.png.json'), 'att-a', 'the pass failed: the claim read itself');
  t.equal(await store.claimOf('archive/b.png.json'), undefined);
  t.equal(failures, -1, 'the second lookup tried the pass again');
  t.equal(await store.claimOf('archive/a.png.json'), 'att-a', 'and the index answers');
  await store.close();
});
