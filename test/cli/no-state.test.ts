// Read commands (`dps status`, `dps manifest`) on a folder that holds no dps state: exit 5 with one line on
// stderr, and nothing created on disk (a typo in --state used to create an empty state and print nothing).

import t from 'tap';
import type { Test } from 'tap';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDps, stackLines, stderrLines } from './helpers.js';

// Runs `dps <command> [--state state]` and checks the refusal: exit 5, one line, nothing on stdout.
async function refused(t: Test, command: string, state: string | undefined, message: RegExp, cwd?: string): Promise<void> {
  const run = await runDps([command, ...(state === undefined ? [] : ['--state', state])], cwd === undefined ? {} : { cwd });
  const what = `${command} ${state === undefined ? '(default --state)' : state.split('/').pop()}`;
  t.equal(run.code, 5, `${what}: exit 5`);
  t.equal(run.stdout, '', `${what}: nothing on stdout`);
  t.equal(stderrLines(run.stderr).length, 1, `${what}: one stderr line: ${run.stderr.trim()}`);
  t.same(stackLines(run.stderr), [], `${what}: no stack trace`);
  t.match(run.stderr, message, `${what}: says why`);
}

t.test('status and manifest refuse a folder that is not a dps state, and create nothing', async (t) => {
  const dir = t.testdir({ empty: {}, photos: { 'cat.png': 'meow' }, file: 'x' });
  const cwd = mkdtempSync(join(tmpdir(), 'dps-no-state-'));
  t.teardown(() => rmSync(cwd, { recursive: true, force: true }));
  const typo = join(dir, 'stat');
  await Promise.all([
    refused(t, 'status', typo, /^dps: no dps state at .*stat: the folder does not exist/),
    refused(t, 'manifest', typo, /^dps: no dps state at .*stat: the folder does not exist/),
    refused(t, 'status', join(dir, 'empty'), /not a dps state directory/),
    refused(t, 'manifest', join(dir, 'photos'), /not a dps state directory/),
    refused(t, 'status', join(dir, 'file'), /is a file/),
    // The default --state (./data/state) in a folder where nothing was archived.
    refused(t, 'status', undefined, /no dps state at .*data\/state/, cwd),
  ]);
  t.notOk(existsSync(typo), 'the mistyped folder still does not exist');
  t.same(readdirSync(join(dir, 'empty')), [], 'an empty folder stays empty');
  t.same(readdirSync(join(dir, 'photos')), ['cat.png'], 'a folder of photos is untouched');
  t.same(readdirSync(cwd), [], 'no ./data created');
});
