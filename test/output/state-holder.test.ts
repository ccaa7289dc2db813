// The refusal of a held state names the running command only from a fresh progress.json of a running run of
// this state: a stale, finished, old-format or hostile file, or another error, is left as it was.

import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StoreError, UsageError } from '../../lib/errors.js';
import { HOLDER_FRESH_MS, progressFilePath } from '../../lib/output/progress-file.js';
import { namedLockError } from '../../lib/output/state-holder.js';

const WRITTEN = Date.parse('2026-12-06T12:00:00.000Z');

t.test('named from a fresh running progress.json, and only then', async (t) => {
  const dir = t.testdir();
  const state = join(dir, 'state');
  const locked = new StoreError('DPS_STORE_LOCKED', `state directory ${state} is in use by another dps process`);
  const write = (fields: Record<string, unknown>): void =>
    writeFileSync(
      progressFilePath(state),
      JSON.stringify({ servers: {}, state, updated_at: new Date(WRITTEN).toISOString(), running: true, command: 'follow', interval_ms: 2000, ...fields }),
    );
  const named = async (ageMs: number, error: unknown = locked): Promise<unknown> => namedLockError(error, state, () => WRITTEN + ageMs);

  t.equal(await named(0), locked, 'no progress.json: unchanged');
  write({});
  const fresh = (await named(5_000)) as StoreError;
  t.not(fresh, locked, 'a fresh running file: a new error');
  t.equal(fresh.code, 'DPS_STORE_LOCKED', 'with the same code');
  t.equal(fresh.exitCode, 5, 'and exit code');
  t.equal(fresh.message, `state directory ${state} is in use by a running dps follow; try again once it has stopped`);
  t.equal(fresh.cause, locked, 'the original as its cause');
  t.not(await named(HOLDER_FRESH_MS), locked, 'still fresh at the limit');
  t.equal(await named(HOLDER_FRESH_MS + 1), locked, 'stale after it (its run was killed): unchanged');
  write({ interval_ms: 20_000 });
  t.not(await named(99_000), locked, 'a run that rewrites it every 20 s: fresh for five intervals');
  t.equal(await named(100_001), locked, 'and stale after them');
  write({ command: 'retry-failed' });
  t.match(((await named(0)) as Error).message, /in use by a running dps retry-failed;/, 'each command by its name');
  write({ running: false });
  t.equal(await named(0), locked, 'a run that ended: unchanged');
  write({ command: undefined, interval_ms: undefined });
  t.equal(await named(0), locked, 'a file of an older dps (no command): unchanged');
  write({ command: 'follow\u001b[2J' });
  t.equal(await named(0), locked, 'a command that is not a plain name: unchanged');
  write({ state: join(dir, 'other') });
  t.equal(await named(0), locked, 'the file of another state: unchanged');
  write({});
  const usage = new UsageError('bad');
  t.equal(await named(0, usage), usage, 'another error: unchanged');
});
