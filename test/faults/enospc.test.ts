// A full disk (ENOSPC on a 2 MB tmpfs): the run stops with one clear line (DPS_DISK_FULL), the state stays
// consistent with what is on disk, no temp file remains, and a re-run after space is freed completes exactly.

import t from 'tap';
import { execFileSync } from 'node:child_process';
import { startFakeDiscord } from '../../fixtures/fake-discord.js';
import { singleChannel } from '../../fixtures/scenarios.js';
import { runLibrary } from '../helpers/harness.js';
import { tmpfsFolder } from '../helpers/tmpfs.js';
import { assertExact, baseOptions, checkArchive } from '../helpers/verify.js';

t.test('ENOSPC stops the run cleanly; a re-run with space completes', async (t) => {
  // Not t.testdir(): tap would remove it before a teardown could unmount the tmpfs inside it.
  const tmpfs = tmpfsFolder(t, 'dps-enospc-', 'out', '2m');
  if (tmpfs === undefined) return;
  const { dir, mount: out } = tmpfs;
  const fake = await startFakeDiscord({ scenario: singleChannel({ seed: 51, messages: 160, imageRatio: 0.6, sizes: [20_000, 60_000] }) });
  t.teardown(() => fake.close());
  const channel = fake.scenario.guilds[0]!.channels[0]!;
  const options = { ...baseOptions(fake, dir, channel.id), out, retries: 2, backoffMs: 10 };

  const first = await runLibrary(options);
  const summary = first.events.at(-1) as { event: string; error?: string; exit_code: number };
  t.equal(summary.event, 'summary', 'the run ends with a summary');
  t.equal(first.result.exitCode, 1, 'exit code 1 (DPS_DISK_FULL)');
  t.match(summary.error ?? '', /disk full.*free some space and re-run/i, `the summary names the cause: ${summary.error}`);
  t.notMatch(summary.error ?? '', /dps-tmp/, 'and does not talk about temp files');
  const stopped = first.logs
    .join('')
    .split('\n')
    .filter((l) => /no space|disk full/i.test(l));
  t.ok(stopped.length >= 1, `one clear line on stderr: ${stopped[0]}`);
  const saved = first.events.filter((e) => e.event === 'saved').length;
  t.ok(saved > 0, `${saved} files fit before the disk was full`);
  t.same(
    first.events.filter((e) => e.event === 'failed'),
    [],
    'a full disk is not blamed on individual files',
  );

  // State and disk agree: every saved record's file is complete, nothing unknown or temporary on disk.
  const check = await checkArchive(fake, out, options.state, channel.id);
  t.ok(check.savedRecords >= saved, `the state records every saved file (${check.savedRecords}; in-flight writes may finish after the stop)`);
  t.equal(check.exact, check.savedRecords, 'every file the state records as saved is on disk, byte-exact');
  t.same(check.extraFiles, [], 'no file the state does not know');
  t.same(check.tempFiles, [], 'no temp files left on the full disk');

  execFileSync('mount', ['-o', 'remount,size=64m', out]);
  const second = await runLibrary(options);
  t.equal(second.result.exitCode, 0, 'the re-run completes');
  await assertExact(t, fake, out, options.state, channel.id);
});
