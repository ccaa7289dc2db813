// LevelDB reports a full disk as a generic IO error ("IO error: ... No space left on device"): translated once,
// here, into the run's DPS_DISK_FULL, so a full state disk stops the run cleanly (summary, exit 1) like a full
// --out does, instead of surfacing as an internal error.

import { isDiskFull, StateDiskFullError } from '../errors.js';

// Does this LevelDB (or file system) error mean the state's disk is full?
export function isStateDiskFull(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e !== undefined && e !== null && depth < 4; depth++) {
    if (isDiskFull(e)) return true;
    const message = (e as { message?: unknown }).message;
    if (typeof message === 'string' && /no space left|ENOSPC|quota exceeded|EDQUOT/i.test(message)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

// A full disk becomes StateDiskFullError (naming the state directory); any other error is returned unchanged.
export function translateWriteError(error: unknown, db: object): unknown {
  if (error instanceof StateDiskFullError || !isStateDiskFull(error)) return error;
  const location = (db as { location?: unknown }).location;
  const where = typeof location === 'string' ? ` ${location}` : '';
  return new StateDiskFullError(`disk full: no space left for the state directory${where}; free some space and re-run to resume`, { cause: error });
}
