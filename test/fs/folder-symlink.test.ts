// An output folder that is a symlink when a run first checks it (put there between runs, or swapped in just
// before the run's first file in it) is a local output problem (issue 20, item 16), not a download failure:
// every failure needs a documented reason (README: `output_unsafe` / DPS_OUTPUT_UNSAFE for a swapped folder),
// and a refusing folder must not cost a download per file (the first file into a folder goes alone).

import t from 'tap';
import { mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { startFakeDiscord } from '../../fixtures/fake-discord.js';
import { singleChannel } from '../../fixtures/scenarios.js';
import { runLibrary } from '../helpers/harness.js';
import { baseOptions, isDocumentedReason } from '../helpers/verify.js';

t.test('a channel folder that is a symlink: a documented reason, the run stops, no download per file', async (t) => {
  const fake = await startFakeDiscord({ scenario: singleChannel({ seed: 3, messages: 30, gapRate: 0, imageRatio: 1, sizes: [500, 2_000] }) });
  t.teardown(() => fake.close());
  const guild = fake.scenario.guilds[0]!;
  const channel = guild.channels[0]!;
  const dir = t.testdir();
  // Where the first run would put the channel's files (learnt from a scratch run).
  const scratch = await runLibrary({ ...baseOptions(fake, join(dir, 'scratch'), channel.id) });
  const first = scratch.events.find((e) => e.event === 'saved') as { path: string } | undefined;
  const rel = first!.path
    .slice(join(dir, 'scratch', 'out').length + 1)
    .split('/')
    .slice(0, -1);
  t.equal(rel.length, 2, `guild and channel folders: ${rel.join('/')}`);

  const options = baseOptions(fake, dir, channel.id);
  mkdirSync(join(options.out, rel[0]!), { recursive: true });
  const elsewhere = join(dir, 'elsewhere');
  mkdirSync(elsewhere);
  symlinkSync(elsewhere, join(options.out, ...rel));
  fake.resetLog();
  const run = await runLibrary(options);
  t.equal(run.result.exitCode, 1, 'exit 1');
  t.same(readdirSync(elsewhere), [], 'nothing written outside --out');
  const reasons = [...new Set(run.events.filter((e) => e.event === 'failed').map((e) => String((e as { reason?: string }).reason)))];
  t.same(
    reasons.filter((r) => !isDocumentedReason(r)),
    [],
    `only documented failure reasons (got ${reasons.join(', ')})`,
  );
  const gets = fake.requests.filter((r) => r.kind === 'cdn').length;
  t.ok(gets <= 1, `at most the first file is downloaded before the run stops (${gets} GETs)`);
});
