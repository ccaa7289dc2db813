// A full disk under --state (a LevelDB write fails with "No space left"): the run stops with DPS_DISK_FULL, a
// summary and exit 1 (not "internal error"), and a re-run after space is freed leaves the archive exact.

import t from 'tap';
import { execFileSync } from 'node:child_process';
import { startFakeDiscord } from '../../fixtures/fake-discord.js';
import { singleChannel } from '../../fixtures/scenarios.js';
import { runLibrary } from '../helpers/harness.js';
import { tmpfsFolder } from '../helpers/tmpfs.js';
import { assertExact, baseOptions } from '../helpers/verify.js';

t.test('ENOSPC in the state stops the run cleanly; a re-run with space completes exactly', async (t) => {
  const tmpfs = tmpfsFolder(t, 'dps-state-enospc-', 'state', '128k');
  if (tmpfs === undefined) return;
  const { dir, mount: state } = tmpfs;
  const fake = await startFakeDiscord({ scenario: singleChannel({ seed: 52, messages: 400, imageRatio: 0.9, sizes: [500, 1_500] }) });
  t.teardown(() => fake.close());
  const channel = fake.scenario.guilds[0]!.channels[0]!;
  const options = { ...baseOptions(fake, dir, channel.id), state, retries: 1, backoffMs: 1 };

  const first = await runLibrary(options);
  const summary = first.events.at(-1) as { event: string; error?: string; exit_code: number };
  t.equal(summary.event, 'summary', 'the run ends with a summary');
  t.equal(first.result.exitCode, 1, 'exit code 1 (DPS_DISK_FULL)');
  t.match(
    summary.error ?? '',
    /disk full: no space left for the state directory.*free some space and re-run/i,
    `the summary names the cause: ${summary.error}`,
  );
  const logs = first.logs.join('');
  t.notMatch(logs, /internal error/, 'not an internal error');
  t.equal(logs.split('\n').filter((l) => /disk full/i.test(l)).length, 1, 'one clear line on stderr');
  t.same(
    first.events.filter((e) => e.event === 'failed'),
    [],
    'a full disk is not blamed on individual files',
  );
  const saved = new Set(first.events.filter((e) => e.event === 'saved').map((e) => (e as { attachment_id: string }).attachment_id));
  t.ok(saved.size > 0, `${saved.size} files were recorded before the state's disk was full`);
  const firstGets = fake.requests.filter((r) => r.kind === 'cdn').map((r) => r.path);
  t.same(firstGets, [...new Set(firstGets)], 'nothing was retried');

  execFileSync('mount', ['-o', 'remount,size=16m', state]);
  fake.resetLog();
  const second = await runLibrary(options);
  t.equal(second.result.exitCode, 0, 'the re-run completes');
  // Files the first run recorded are not downloaded again (their cursor may not have been saved, so the re-run
  // announces them again from their records, as after any interruption: README "NDJSON events").
  const refetched = fake.requests.filter((r) => r.kind === 'cdn' && saved.has(r.path.split('/')[3] ?? ''));
  t.same(
    refetched.map((r) => r.path),
    [],
    'no file recorded by the first run is downloaded again',
  );
  t.ok(fake.requests.filter((r) => r.kind === 'cdn').length < 425, 'the re-run downloads only what is missing');
  await assertExact(t, fake, options.out, state, channel.id);
});
