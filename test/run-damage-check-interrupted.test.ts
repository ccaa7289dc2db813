// Issue 20, item 6: a run that finds the state damaged re-adopts the files already in --out instead of
// downloading them. If that recovery run is interrupted (Ctrl-C) right after it warned, the next run must still
// re-adopt (or at least warn again), never silently download every file that is already in --out. Today the
// interrupted run rewrites progress.json from the damaged state, so the witness is gone: the next run sees no
// damage and downloads everything again.

import t from 'tap';
import { readdirSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { startFakeDiscord } from '../fixtures/fake-discord.js';
import { singleChannel } from '../fixtures/scenarios.js';
import { archive } from '../lib/index.js';
import type { ArchiveOptions, DpsEvent } from '../lib/index.js';
import { runLibrary } from './helpers/harness.js';
import { assertExact, baseOptions } from './helpers/verify.js';

// Runs the library and aborts it as soon as it prints a `warning` event with code state_damaged.
async function runAbortingOnDamage(options: ArchiveOptions): Promise<{ exitCode: number; events: DpsEvent[] }> {
  const events: DpsEvent[] = [];
  const controller = new AbortController();
  const stdout = {
    write: (chunk: string) => {
      for (const line of chunk.split('\n').filter(Boolean)) {
        const event = JSON.parse(line) as DpsEvent & { code?: string };
        events.push(event);
        if (event.event === 'warning' && event.code === 'state_damaged') controller.abort();
      }
      return true;
    },
    on: () => stdout,
    once: () => stdout,
    off: () => stdout,
  };
  const stderr = { write: () => true, on: () => stderr, once: () => stderr, off: () => stderr };
  const result = await archive(options, { stdout: stdout as never, stderr: stderr as never, signal: controller.signal });
  return { exitCode: result.exitCode, events };
}

t.test('a recovery run interrupted after its state_damaged warning: the next run still re-adopts', async (t) => {
  const fake = await startFakeDiscord({ scenario: singleChannel({ seed: 9, messages: 60, gapRate: 0, imageRatio: 0.7, sizes: [500, 3_000] }) });
  t.teardown(() => fake.close());
  const channel = fake.scenario.guilds[0]!.channels[0]!;
  const dir = t.testdir();
  const options = { ...baseOptions(fake, dir, channel.id), state: join(dir, 'data', 'state') };
  const first = await runLibrary(options);
  t.equal(first.result.exitCode, 0);
  const files = first.events.filter((e) => e.event === 'saved').length;

  for (const log of readdirSync(options.state).filter((f) => /^\d+\.log$/.test(f))) truncateSync(join(options.state, log), 0);
  fake.resetLog();
  const interrupted = await runAbortingOnDamage(options);
  t.ok(
    interrupted.events.some((e) => e.event === 'warning'),
    'the recovery run warned, then was interrupted',
  );

  const next = await runLibrary(options);
  t.equal(next.result.exitCode, 0);
  const gets = fake.requests.filter((r) => r.kind === 'cdn').length;
  t.equal(gets, 0, `no file already in --out is downloaded again (${gets} of ${files} were)`);
  await assertExact(t, fake, options.out, options.state, channel.id);
});
