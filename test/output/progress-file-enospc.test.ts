// progress.json is written beside the state through a temp file (lib/output/progress-file.ts #replace). When the
// write itself fails (the state's disk is full), the temp is not removed (only a failed rename removes it), so a
// `progress.json.<hex>.tmp` stays beside the state for good, even after later successful runs. Required (issue 20
// item 5 / "no temp files"): nothing but progress.json and the state folder is left there.

import t from 'tap';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startFakeDiscord } from '../../fixtures/fake-discord.js';
import { singleChannel } from '../../fixtures/scenarios.js';
import { runLibrary } from '../helpers/harness.js';
import { tmpfsFolder } from '../helpers/tmpfs.js';
import { baseOptions } from '../helpers/verify.js';

t.test('a full disk beside the state leaves no progress.json temp file', async (t) => {
  const tmpfs = tmpfsFolder(t, 'dps-progress-enospc-', 'disk', '200k');
  if (tmpfs === undefined) return;
  const { dir, mount: disk } = tmpfs;
  const fake = await startFakeDiscord({ scenario: singleChannel({ seed: 53, messages: 400, imageRatio: 0.9, sizes: [500, 1_500] }) });
  t.teardown(() => fake.close());
  const channel = fake.scenario.guilds[0]!.channels[0]!;
  const state = join(disk, 'state');
  const options = { ...baseOptions(fake, dir, channel.id), state, retries: 1, backoffMs: 1 };
  const first = await runLibrary(options);
  t.equal(first.result.exitCode, 1, 'the first run stops: disk full');
  t.same(
    readdirSync(disk).filter((f) => f.endsWith('.tmp')),
    [],
    'no temp file beside the state after the disk-full stop',
  );
  execFileSync('mount', ['-o', 'remount,size=16m', disk]);
  const second = await runLibrary(options);
  t.equal(second.result.exitCode, 0, 'the re-run completes');
  t.same(
    readdirSync(disk).filter((f) => f.endsWith('.tmp')),
    [],
    'and none after the re-run either',
  );
});
