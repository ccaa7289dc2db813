// Opening the state store: LevelDB in a directory that is locked while a run holds it, identified as ours by a
// meta record, and never overwritten when it turns out to be something else. The Store API lives in store.ts.

import fs from 'node:fs/promises';
import os from 'node:os'; // dry runs: the state's copy goes to the system temp folder (openStoreCopy)
import path from 'node:path';
import { Level } from 'level';
import { StoreError } from '../errors.js';
import type { StateDiskFullError } from '../errors.js';
import { isStateDiskFull, translateWriteError } from './write-errors.js';
import { Store } from './store.js';
import { makeFolder } from '../fs/output-check.js';
import type { StoreDb } from './store.js';

// Identifies a state directory as ours; a database without it is someone else's and is never touched.
export interface StoreMeta {
  format: 'dps-state';
  version: 1;
  created_at: string;
}

// State directories this process has open. LevelDB's lock is an fcntl lock, which POSIX drops when the
// process closes ANY descriptor of the LOCK file, and LevelDB does exactly that when a second open in the same
// process fails. So a second open in this process must be refused here, before LevelDB ever sees it.
const openHere = new Set<string>();

const META_KEY = 'meta';
// A file beside LevelDB's own that names the folder a dps state (LevelDB removes only files it named itself).
const MARKER = 'DPS_STATE';
const FORMAT: StoreMeta['format'] = 'dps-state';

// Wrap an already-open or opening database (memory-level in tests) and check it is a dps state store.
export async function createStore(db: StoreDb, label = 'the state database'): Promise<Store> {
  await db.open();
  await ensureMeta(db, label);
  return new Store(db);
}

// Our meta record, or undefined when there is none; a meta key that is not our JSON means a foreign database.
async function readMeta(db: StoreDb, where: string): Promise<Partial<StoreMeta> | undefined> {
  try {
    const meta: unknown = await db.get(META_KEY, { valueEncoding: 'json' });
    if (meta === undefined || (typeof meta === 'object' && meta !== null)) return meta as Partial<StoreMeta> | undefined;
  } catch (error) {
    throw corrupt(`${where} is not a dps state directory`, error);
  }
  throw corrupt(`${where} is not a dps state directory`);
}

// First open writes the meta record; a database that has keys but no meta record is someone else's.
// With `create` false (read commands) a database without the meta record is refused, and nothing is written.
async function ensureMeta(db: StoreDb, where: string, create = true): Promise<void> {
  const meta = await readMeta(db, where);
  if (meta === undefined) {
    for await (const _key of db.keys({ limit: 1 })) {
      throw corrupt(`${where} is not a dps state directory (it holds another database); choose another one`);
    }
    if (!create) throw noState(`${where} is not a dps state directory (an empty database); check --state`);
    const fresh: StoreMeta = { format: FORMAT, version: 1, created_at: new Date().toISOString() };
    await db.put(META_KEY, fresh, { valueEncoding: 'json' });
    return;
  }
  if (meta.format !== FORMAT) throw corrupt(`${where} is not a dps state directory`);
  if (meta.version !== 1) {
    throw corrupt(`${where} was written by another dps version (state version ${String(meta.version)}); upgrade dps`);
  }
}

// How to open the state: `mustExist` is for read commands (manifest, status), which must find a dps state
// there already and create nothing: a typo in --state is an error (DPS_NO_STATE), not an empty archive.
export interface OpenStoreOptions {
  signal?: AbortSignal | undefined;
  mustExist?: boolean;
}

// Open (creating if needed) the LevelDB state directory. Refuses, without writing anything, a directory that
// another dps process holds (DPS_STORE_LOCKED) or that holds something other than a dps store (DPS_STORE_CORRUPT).
export async function openStore(dir: string, opts: OpenStoreOptions = {}): Promise<Store> {
  opts.signal?.throwIfAborted();
  const location = path.resolve(dir);
  const mustExist = opts.mustExist ?? false;
  await (mustExist ? assertExistingState(location) : assertStoreDirectory(location));
  const key = await fs.realpath(location);
  if (openHere.has(key)) throw lockedError(location);
  openHere.add(key); // at once: a second open in this process, started while this one waits, is refused above
  const release = (): void => void openHere.delete(key);
  try {
    await assertNotHeld(location);
    await checkUnmarked(location);
  } catch (error) {
    release();
    throw error;
  }
  const db = new Level<string, unknown>(location, { valueEncoding: 'json', createIfMissing: !mustExist });
  try {
    await db.open();
  } catch (error) {
    release();
    throw translateOpenError(error, location);
  }
  try {
    opts.signal?.throwIfAborted();
    await ensureMeta(db, location, !mustExist).catch((error: unknown) => {
      throw translateWriteError(error, db);
    });
    await fs.writeFile(path.join(location, MARKER), `${FORMAT}\n`, { flag: 'wx' }).catch(() => undefined); // ours from now on
    return new Store(db, release);
  } catch (error) {
    await db.close().catch(() => {});
    release();
    throw error;
  }
}

function corrupt(message: string, cause?: unknown): StoreError {
  return new StoreError('DPS_STORE_CORRUPT', message, { cause });
}

function noState(message: string, cause?: unknown): StoreError {
  return new StoreError('DPS_NO_STATE', message, { cause });
}

function lockedError(location: string, cause?: unknown): StoreError {
  return new StoreError('DPS_STORE_LOCKED', `state directory ${location} is in use by another dps process`, { cause });
}

// The directory must be missing, empty, or already a LevelDB (it has CURRENT); anything else is not ours.
async function assertStoreDirectory(location: string): Promise<void> {
  let entries: string[];
  try {
    entries = await fs.readdir(location);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ENOENT') {
      return void (await makeFolder(location).catch((made: unknown) => {
        throw isStateDiskFull(made)
          ? translateWriteError(made, { location })
          : corrupt(`cannot create the state directory ${location}: ${String((made as { code?: unknown }).code ?? made)}`, made);
      }));
    }
    if (code === 'ENOTDIR') throw corrupt(`state path ${location} is a file, not a directory`, error);
    throw corrupt(`cannot read state directory ${location}: ${String(code ?? error)}`, error);
  }
  if (entries.length > 0 && !entries.includes('CURRENT')) {
    throw corrupt(`${location} is not empty and is not a dps state directory; choose another one`);
  }
}

// Read commands: the directory must exist and hold a LevelDB (its CURRENT file); a missing one is not created.
async function assertExistingState(location: string): Promise<void> {
  let entries: string[];
  try {
    entries = await fs.readdir(location);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ENOENT') throw noState(`no dps state at ${location}: the folder does not exist (check --state)`, error);
    if (code === 'ENOTDIR') throw noState(`state path ${location} is a file, not a dps state directory`, error);
    throw corrupt(`cannot read state directory ${location}: ${String(code ?? error)}`, error);
  }
  if (!entries.includes('CURRENT')) throw noState(`${location} is not a dps state directory (no state database in it); check --state`);
}

function translateOpenError(error: unknown, location: string): StoreError | StateDiskFullError {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  if (cause?.code === 'LEVEL_LOCKED') {
    return lockedError(location, error);
  }
  if (cause?.code === 'LEVEL_CORRUPTION') {
    return corrupt(`state directory ${location} is corrupt: ${String(cause.message)}`, error);
  }
  if (isStateDiskFull(error)) return translateWriteError(error, { location }) as StateDiskFullError;
  const detail = String(cause?.message ?? (error as Error | null)?.message ?? error);
  return corrupt(`cannot open state directory ${location}: ${detail}`, error);
}

// LevelDB renames a database's info log (LOG to LOG.old) and starts a new one before it even tries the lock, so an
// open that another process's lock refuses would rotate away that process's log, which it reads after its own open
// (lib/run-damage-check.ts). So the lock is tried first on a hard link to the LOCK file in a sibling folder (the
// lock belongs to the file, whatever its name), removed afterwards: held, the open is refused there and the state's
// files are untouched. Where no link can be made, LevelDB's own open is the check.
async function assertNotHeld(location: string): Promise<void> {
  const entries = await fs.readdir(location).catch(() => [] as string[]);
  if (!entries.includes('LOCK')) return;
  const probe = await fs.mkdtemp(path.join(path.dirname(location), `.${path.basename(location)}.dps-lock-`)).catch(() => undefined);
  if (probe === undefined) return;
  try {
    const linked = await fs.link(path.join(location, 'LOCK'), path.join(probe, 'LOCK')).then(
      () => true,
      () => false,
    );
    if (!linked) return;
    // Free, the lock is taken and released at once: with no CURRENT there, LevelDB refuses to open the folder.
    const db = new Level<string, unknown>(probe, { createIfMissing: false });
    const refused = await db.open().then(
      () => undefined,
      (error: unknown) => error,
    );
    if (refused === undefined) await db.close().catch(() => undefined);
    else if ((refused as { cause?: { code?: unknown } }).cause?.code === 'LEVEL_LOCKED') throw lockedError(location, refused);
  } finally {
    await fs.rm(probe, { recursive: true, force: true });
  }
}

// Opening a LevelDB rewrites its files (the log is replayed into a new table, a new MANIFEST is written), so a
// database that is not known to be ours (no marker: someone else's, or a state from before the marker) is first
// opened as a snapshot of hard links in a sibling folder, removed afterwards: LevelDB never writes into an
// existing file, so the original is left exactly as it was when it turns out to be someone else's.
async function checkUnmarked(location: string): Promise<void> {
  const entries = await fs.readdir(location).catch(() => [] as string[]);
  if (!entries.includes('CURRENT') || entries.includes(MARKER)) return;
  const snapshot = await fs.mkdtemp(path.join(path.dirname(location), `.${path.basename(location)}.dps-check-`));
  try {
    for (const name of entries) {
      const from = path.join(location, name);
      if (name === 'LOCK' || !(await fs.lstat(from)).isFile()) continue;
      await fs.link(from, path.join(snapshot, name)).catch(() => fs.copyFile(from, path.join(snapshot, name)));
    }
    const db = new Level<string, unknown>(snapshot, { valueEncoding: 'json', createIfMissing: false });
    try {
      await db.open();
    } catch (error) {
      throw translateOpenError(error, location);
    }
    try {
      await ensureMeta(db, location, false);
    } finally {
      await db.close().catch(() => undefined);
    }
  } finally {
    await fs.rm(snapshot, { recursive: true, force: true });
  }
}

// ---- dry runs (lib/stages/simulate.ts): the state read through a throwaway copy ----

// A state opened for a dry run, with the folder it was copied to (its LevelDB LOG tells what this open of
// the state's files dropped, see run-damage-check.ts) and the removal of that folder, once the store is closed.
export interface StoreCopy {
  store: Store;
  location: string;
  remove: () => Promise<void>;
}

// Opening a LevelDB rewrites its files (the log is replayed into a new table, a new MANIFEST, LOG and CURRENT), so
// a dry run, which must leave the state exactly as it was, opens a copy: hard links to the state's files in a new
// folder under the system temp folder (copies where a link cannot cross file systems). LevelDB never writes into an
// existing file (see checkUnmarked), so the state's files keep their bytes; what the dry run decides that a real run
// would record (a walk restarted for a wider filter, the claims of the names it hands out) goes to the copy, which
// is removed afterwards. A missing or empty state is an empty copy: nothing is created at --state (`mustExist`:
// refused, DPS_NO_STATE). The same checks
// as openStore refuse a file, a foreign folder or database, or another dps version. Linked, the copy shares the
// state's LOCK file, and LevelDB's lock holds per file: a run holding the state refuses the dry run with
// DPS_STORE_LOCKED, and a run started during it is refused. A copied (not linked) state is read as it was copied.
export async function openStoreCopy(dir: string, opts: OpenStoreOptions = {}): Promise<StoreCopy> {
  opts.signal?.throwIfAborted();
  const location = path.resolve(dir);
  const entries = await stateEntries(location);
  if (opts.mustExist === true && entries.length === 0) throw noState(`no dps state at ${location} (check --state)`); // retry-failed's
  const key = entries.length > 0 ? await fs.realpath(location) : undefined;
  if (key !== undefined && openHere.has(key)) throw lockedError(location);
  const copy = await fs.mkdtemp(path.join(os.tmpdir(), 'dps-dry-run-'));
  const remove = (): Promise<void> => fs.rm(copy, { recursive: true, force: true });
  try {
    for (const name of entries) await linkOrCopy(path.join(location, name), path.join(copy, name));
    const db = new Level<string, unknown>(copy, { valueEncoding: 'json' });
    try {
      await db.open();
    } catch (error) {
      throw translateOpenError(error, location);
    }
    try {
      opts.signal?.throwIfAborted();
      await ensureMeta(db, location, true); // a foreign database is refused; the meta record of a new state goes to the copy
    } catch (error) {
      await db.close().catch(() => undefined);
      throw error;
    }
    return { store: new Store(db), location: copy, remove };
  } catch (error) {
    await remove();
    throw error;
  }
}

// The files of a state folder that a copy takes: none when it does not exist or is empty; refused like openStore
// when it is a file or a non-empty folder without a LevelDB.
async function stateEntries(location: string): Promise<string[]> {
  let entries: string[];
  try {
    entries = await fs.readdir(location);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ENOENT') return [];
    if (code === 'ENOTDIR') throw corrupt(`state path ${location} is a file, not a directory`, error);
    throw corrupt(`cannot read state directory ${location}: ${String(code ?? error)}`, error);
  }
  if (entries.length === 0) return [];
  if (!entries.includes('CURRENT')) throw corrupt(`${location} is not empty and is not a dps state directory; choose another one`);
  const files: string[] = [];
  for (const name of entries) {
    const stat = await fs.lstat(path.join(location, name)).catch(() => undefined);
    if (stat?.isFile()) files.push(name);
  }
  return files;
}

// A hard link to one of the state's files, or a copy where links cannot be made; a file gone meanwhile is skipped.
async function linkOrCopy(from: string, to: string): Promise<void> {
  try {
    await fs.link(from, to);
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return;
    await fs.copyFile(from, to).catch((copied: unknown) => {
      if ((copied as { code?: unknown }).code !== 'ENOENT') throw copied;
    });
  }
}
