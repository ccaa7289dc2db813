// Regression (outside test of issue 20, item 10): `status` and `manifest` refuse a LevelDB that is not a dps
// state (exit 5, "it holds another database"), but only after opening it read-write: LevelDB replays its log
// into a new table file, writes a new MANIFEST and log and rotates LOG, so a read command rewrites another
// program's database. A read command must leave a folder that is not its state as it found it.

import t from 'tap';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Level } from 'level';
import { runDps } from './helpers.js';

t.test("status and manifest leave another program's LevelDB untouched", async (t) => {
  const dir = join(t.testdir(), 'otherdb');
  const db = new Level(dir);
  await db.put('some', 'record of another program');
  await db.close();
  const before = readdirSync(dir).sort();
  for (const command of ['status', 'manifest']) {
    const run = await runDps([command, '--state', dir]);
    t.equal(run.code, 5, `${command}: exit 5 (${run.stderr.trim()})`);
  }
  t.same(readdirSync(dir).sort(), before, 'the folder holds the same files as before');
});
