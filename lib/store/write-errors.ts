// LevelDB reports a full disk as a generic IO error ("IO error: ... No space left on device"): translated once,
// here, into the run's DPS_DISK_FULL, so a full state disk stops the run cleanly (summary, exit 1) like a full
// --out does, instead of surfacing as an internal error.

import { isDiskFull, isDiskFullError, StateDiskFullError } from '../errors.js';

// Does this LevelDB (or file system) error mean the state's disk is full? The error codes along the cause chain
// first (ENOSPC/EDQUOT from the file system); then the messages, because LevelDB's native IO errors carry no
// such code: only their text ("IO error: ... No space left on device") says the disk is full.
export function isStateDiskFull(error: unknown): boolean {
  const chain: unknown[] = [];
  for (let e: unknown = error, depth = 0; e !== undefined && e !== null && depth < 4; depth++) {
    chain.push(e);
    e = (e as { cause?: unknown }).cause;
  }
  if (chain.some(isDiskFull)) return true;
  return chain.some((e) => {
    const message = (e as { message?: unknown }).message;
    return typeof message === 'string' && /no space left|ENOSPC|quota exceeded|EDQUOT/i.test(message);
  });
}

// A full disk becomes StateDiskFullError (naming the state directory); any other error is returned unchanged.
export function translateWriteError(error: unknown, db: object): unknown {
  if (isDiskFullError(error, 'state') || !isStateDiskFull(error)) return error;
  const location = (db as { location?: unknown }).location;
  const where = typeof location === 'string' ? ` ${location}` : '';
  return new StateDiskFullError(`disk full: no space left for the state directory${where}; free some space and re-run to resume`, { cause: error });
}
