// Read commands (`dps status`, `dps manifest`) on a folder that holds no dps state: exit 5 with one line on
// stderr, and nothing created on disk (a typo in --state used to create an empty state and print nothing).

import t from 'tap';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { runDps, stackLines, stderrLines } from './helpers.js';

for (const command of ['status', 'manifest']) {
  t.test(`dps ${command} refuses a folder that is not a dps state and creates nothing`, async (t) => {
    const dir = t.testdir({ empty: {}, photos: { 'cat.png': 'meow' }, file: 'x' });
    const refused = async (state: string | undefined, message: RegExp, cwd?: string): Promise<void> => {
      const run = await runDps([command, ...(state === undefined ? [] : ['--state', state])], cwd === undefined ? {} : { cwd });
      t.equal(run.code, 5, `${state === undefined ? 'default --state' : basename(state)}: exit 5`);
      t.equal(run.stdout, '', 'nothing on stdout');
      t.equal(stderrLines(run.stderr).length, 1, `one stderr line: ${run.stderr.trim()}`);
      t.same(stackLines(run.stderr), [], 'no stack trace');
      t.match(run.stderr, message);
    };
    const typo = join(dir, 'stat');
    await refused(typo, /^dps: no dps state at .*stat: the folder does not exist/);
    t.notOk(existsSync(typo), 'the mistyped folder still does not exist');
    await refused(join(dir, 'empty'), /not a dps state directory/);
    t.same(readdirSync(join(dir, 'empty')), [], 'an empty folder stays empty');
    await refused(join(dir, 'photos'), /not a dps state directory/);
    t.same(readdirSync(join(dir, 'photos')), ['cat.png'], 'a folder of photos is untouched');
    await refused(join(dir, 'file'), /is a file/);

    // The default --state (./data/state) in a folder where nothing was archived.
    const cwd = mkdtempSync(join(tmpdir(), 'dps-no-state-'));
    t.teardown(() => rmSync(cwd, { recursive: true, force: true }));
    await refused(undefined, /no dps state at .*data\/state/, cwd);
    t.same(readdirSync(cwd), [], 'no ./data created');
  });
}
