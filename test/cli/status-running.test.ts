// `dps status` while a scrape holds the state's lock: it answers from the progress.json the scrape keeps beside
// the state (exit 0), says on stderr how old that is and, when the run estimated it, its ETA, and refuses
// (exit 5) when there is none for this state.

import t from 'tap';
import { join } from 'node:path';
import { startFakeDiscord } from '../../fixtures/fake-discord.js';
import { singleChannel } from '../../fixtures/scenarios.js';
import { ProgressFile } from '../../lib/output/progress-file.js';
import { openStore } from '../../lib/store/open.js';
import { runLibrary } from '../helpers/harness.js';
import { baseOptions } from '../helpers/verify.js';
import { runDps } from './helpers.js';

t.test('status of a locked state reads progress.json', async (t) => {
  const fake = await startFakeDiscord({ scenario: singleChannel({ seed: 72, messages: 20, imageRatio: 0.7, sizes: [1_000, 2_000] }) });
  t.teardown(() => fake.close());
  const dir = t.testdir();
  const channel = fake.scenario.guilds[0]!.channels[0]!;
  const options = { ...baseOptions(fake, dir, channel.id), state: join(dir, 'data', 'state') };
  t.equal((await runLibrary(options)).result.exitCode, 0);

  // This process holds the LevelDB lock, as a running scrape would.
  const store = await openStore(options.state);
  t.teardown(() => store.close());
  const status = await runDps(['status', '--state', options.state]);
  t.equal(status.code, 0, `exit 0 (stderr: ${status.stderr})`);
  t.match(
    status.stderr,
    /in use by another dps process; showing the last progress\.json as of \S+ \(\d+ s ago\)/, // the run that wrote it has ended
    'says where the answer comes from and how old it is',
  );
  const report = JSON.parse(status.stdout) as { as_of?: string; servers: Record<string, { channels: Record<string, { total_images: number }> }> };
  t.type(report.as_of, 'string', 'as_of in the JSON');
  const files = [...fake.expected({ channelId: channel.id })].length;
  t.equal(report.servers[fake.scenario.guilds[0]!.id]?.channels[channel.id]?.total_images, files, 'the numbers of the run');

  // Another state in the same folder (the progress.json there is not its own): refused as before.
  const other = join(dir, 'data', 'other');
  const otherStore = await openStore(other);
  t.teardown(() => otherStore.close());
  const refused = await runDps(['status', '--state', other]);
  t.equal(refused.code, 5, 'exit 5 when no progress.json describes this state');
});

t.test('status of a running scrape that estimated its end: the ETA on stderr, the estimate in the JSON', async (t) => {
  const dir = t.testdir();
  const state = join(dir, 'data', 'state');
  // This process holds the lock and writes progress.json with an estimate, as a running scrape would.
  const store = await openStore(state);
  t.teardown(() => store.close());
  const written = Date.now();
  const progress = new ProgressFile(store, state, { intervalMs: 60_000, now: () => written, command: 'scrape' });
  const eta = 3 * 3_600_000 + 30 * 60_000; // 3h 30m
  progress.setEstimate(() => ({ eta_ms: eta, pages_left: 1234, channels_left: 5, channels_running: 3, downloads: 24 }));
  await progress.start();
  t.teardown(() => progress.close());

  const status = await runDps(['status', '--state', state]);
  t.equal(status.code, 0, `exit 0 (stderr: ${status.stderr})`);
  t.match(status.stderr, /in use by a running dps scrape; showing its progress\.json/, 'says where the answer comes from');
  t.match(status.stderr, /^dps: ETA 3h [23]\dm \(about 1,234 pages left in 5 channels\)$/m, 'and the ETA, from the age of the file on');
  const report = JSON.parse(status.stdout) as { age_ms: number; estimate?: Record<string, unknown> };
  t.same(
    report.estimate,
    {
      eta_ms: Math.max(0, eta - report.age_ms),
      finish_at: new Date(written + eta).toISOString(),
      pages_left: 1234,
      channels_left: 5,
      channels_running: 3,
    },
    'the estimate in the JSON: eta_ms less the age, finish_at as written',
  );
});
