// The refusal of a state's lock that names the dps command holding it ("in use by a running dps follow"): a run
// names its command in the progress.json it rewrites beside the state every few seconds (progress-file.ts), and a
// file that says `running` and is fresh names the holder (runningCommand). A file that is stale (its run was
// killed), finished, from an older dps (no `command`), or absent names nobody: the refusal stays "in use by
// another dps process" (a read command such as `dps manifest`, a dry run, or a run that keeps no file).

import path from 'node:path';
import { StoreError, hasCode } from '../errors.js';
import { readProgressFile, runningCommand } from './progress-file.js';

// A lock refusal (DPS_STORE_LOCKED) of `state` that names the running command holding it, when its progress.json
// does; any other error (or a holder not known) is returned as it is.
export async function namedLockError(error: unknown, state: string, now: () => number = Date.now): Promise<unknown> {
  if (!hasCode(error, 'DPS_STORE_LOCKED')) return error;
  const command = runningCommand(await readProgressFile(state), now());
  if (command === undefined) return error;
  const message = `state directory ${path.resolve(state)} is in use by a running dps ${command}; try again once it has stopped`;
  return new StoreError('DPS_STORE_LOCKED', message, { cause: error });
}
