// Regression (outside test of issue 20, item 10): progress.json names its state by path.resolve(), and a reader
// accepts it only for the same string. The same state reached through a symlinked folder (a data folder linked to
// another disk, /tmp -> /private/tmp on macOS) is "another state": `dps status --state <link>/state` during a
// running scrape exits 5 although the progress.json beside it is that scrape's, and the next run's damage check
// ignores the file.

import t from 'tap';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { progressFilePath, readProgressFile } from '../../lib/output/progress-file.js';

t.test('progress.json is found for a state reached through a symlinked folder', async (t) => {
  const dir = t.testdir();
  const real = join(dir, 'real');
  const link = join(dir, 'link');
  mkdirSync(join(real, 'state'), { recursive: true });
  symlinkSync(real, link);
  const report = {
    servers: { '123456789012345678': { name: 'G', channels: {} } },
    state: join(real, 'state'),
    updated_at: new Date().toISOString(),
    running: true,
  };
  writeFileSync(progressFilePath(join(real, 'state')), JSON.stringify(report));
  t.ok(await readProgressFile(join(real, 'state')), 'found through the real path');
  t.ok(await readProgressFile(join(link, 'state')), 'and through the symlinked path: it is the same state and the same file');
});

t.test('two states in one folder keep two progress files', async (t) => {
  const dir = t.testdir();
  t.equal(progressFilePath(join(dir, 'state')), join(dir, 'progress.json'), 'data/progress.json for data/state');
  t.equal(progressFilePath(join(dir, 'a')), join(dir, 'a.progress.json'), 'a.progress.json for a state folder named a');
  t.not(progressFilePath(join(dir, 'a')), progressFilePath(join(dir, 'b')), 'never the same file for two states');
});
