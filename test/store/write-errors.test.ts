// lib/store/write-errors.ts: a full state disk, whether the file system says so with a code or LevelDB only in
// its message, becomes the state's DPS_DISK_FULL; anything else passes unchanged.
import t from 'tap';
import { isDiskFullError, type StateDiskFullError } from '../../lib/errors.js';
import { isStateDiskFull, translateWriteError } from '../../lib/store/write-errors.js';

const db = { location: '/var/state' };

t.test('a code anywhere on the cause chain, or LevelDB text, means a full disk', async (t) => {
  t.ok(isStateDiskFull(Object.assign(new Error('write failed'), { code: 'ENOSPC' })));
  t.ok(isStateDiskFull(new Error('batch failed', { cause: Object.assign(new Error('x'), { code: 'EDQUOT' }) })));
  t.ok(isStateDiskFull(new Error('batch failed', { cause: new Error('IO error: /var/state/000012.log: No space left on device') })), 'LevelDB: text only');
  t.notOk(isStateDiskFull(new Error('IO error: lock held')));
  t.notOk(isStateDiskFull(undefined));
});

t.test('translated once: a StateDiskFullError naming the state, the original as its cause', async (t) => {
  const leveldb = new Error('IO error: No space left on device');
  const translated = translateWriteError(leveldb, db);
  t.ok(isDiskFullError(translated, 'state'));
  t.match((translated as StateDiskFullError).message, /state directory \/var\/state/);
  t.equal((translated as StateDiskFullError).cause, leveldb);
  t.equal(translateWriteError(translated, db), translated, 'already translated: unchanged');
  const other = new Error('IO error: corruption');
  t.equal(translateWriteError(other, db), other, 'anything else: unchanged');
});
