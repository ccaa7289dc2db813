// A dry run over a damaged state (a garbled LevelDB log): it warns as a real run would (state_damaged), walks
// every channel again in its copy of the state, finds the files already in --out that a real run re-adopts, so
// it counts nothing to download, and leaves the state, its damage and progress.json as they were: the real run
// after it still finds the damage, and downloads exactly what the dry run said (nothing).

import t from 'tap';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { startFakeDiscord } from '../fixtures/fake-discord.js';
import { singleChannel } from '../fixtures/scenarios.js';
import { runLibrary } from './helpers/harness.js';
import { assertExact, baseOptions } from './helpers/verify.js';

// Every file of a folder with its bytes' hash.
function bytesOf(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir).sort())
    out[name] = createHash('sha256')
      .update(readFileSync(join(dir, name)))
      .digest('hex');
  return out;
}

t.test('a garbled LevelDB log: warned, re-adoptions counted, nothing changed', async (t) => {
  const fake = await startFakeDiscord({ scenario: singleChannel({ seed: 82, messages: 60, imageRatio: 0.8, sizes: [1_000, 4_000], special: 'duplicates' }) });
  t.teardown(() => fake.close());
  const dir = t.testdir();
  const channel = fake.scenario.guilds[0]!.channels[0]!;
  const options = { ...baseOptions(fake, dir, channel.id), state: join(dir, 'data', 'state') };
  const progress = join(dir, 'data', 'progress.json');
  t.equal((await runLibrary(options)).result.exitCode, 0, 'the first run archives everything');
  const log = readdirSync(options.state)
    .filter((f) => /^\d+\.log$/.test(f))
    .sort()
    .at(-1)!;
  const size = statSync(join(options.state, log)).size;
  const fd = openSync(join(options.state, log), 'r+');
  writeSync(fd, Buffer.alloc(Math.min(40_000, Math.floor(size / 2)), 0xa5), 0, undefined, Math.floor(size / 4));
  closeSync(fd);
  const stateBefore = bytesOf(options.state);
  const progressBefore = readFileSync(progress, 'utf8');

  fake.resetLog();
  const dry = await runLibrary({ ...options, dryRun: true });
  t.equal(dry.result.exitCode, 0, 'the dry run completes');
  t.ok(
    dry.events.some((e) => e.event === 'warning' && e.code === 'state_damaged'),
    'state_damaged, as a real run warns',
  );
  t.equal(fake.requests.filter((r) => r.kind === 'cdn').length, 0, 'no CDN request');
  const wouldSave = dry.events.filter((e) => e.event === 'would_save');
  t.ok(wouldSave.length > 0, `files the state lost are found again (${wouldSave.length})`);
  t.ok(
    // archived: recorded by the interrupted run but never announced (the real run announces it, downloads nothing)
    wouldSave.every((e) => e.adopted === true || e.duplicate_of !== undefined || e.archived === true),
    'each would be re-adopted from --out (or linked, or announced from its record), not downloaded',
  );
  const summary = dry.events.find((e) => e.event === 'summary') as unknown as Record<string, unknown>;
  t.match(summary, { dry_run: true, would_download: 0, would_save_bytes: 0 });
  t.same(bytesOf(options.state), stateBefore, 'the state keeps every byte (its damage included)');
  t.equal(readFileSync(progress, 'utf8'), progressBefore, 'progress.json is neither rewritten nor marked recovering');

  fake.resetLog();
  const real = await runLibrary(options);
  t.equal(real.result.exitCode, 0);
  t.ok(
    real.events.some((e) => e.event === 'warning' && e.code === 'state_damaged'),
    'the real run still finds the damage',
  );
  t.equal(fake.requests.filter((r) => r.kind === 'cdn').length, 0, 'and downloads nothing, as the dry run said');
  await assertExact(t, fake, options.out, options.state, channel.id);
  t.ok(existsSync(progress));
});
