// A state whose LevelDB log was truncated or garbled (or that was lost altogether) while progress.json and the
// files in --out survived: the next run warns loudly (stderr + `warning` event `state_damaged`), downloads none of
// the files already in --out (they are hashed and re-adopted), and leaves the archive exact.

import t from 'tap';
import type { Test } from 'tap';
import { openSync, readdirSync, rmSync, statSync, truncateSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { startFakeDiscord } from '../fixtures/fake-discord.js';
import type { FakeDiscord } from '../fixtures/fake-discord.js';
import { singleChannel } from '../fixtures/scenarios.js';
import { runLibrary } from './helpers/harness.js';
import { assertExact, baseOptions } from './helpers/verify.js';

// The newest LevelDB log of a state directory.
function newestLog(state: string): string {
  const logs = readdirSync(state)
    .filter((f) => /^\d+\.log$/.test(f))
    .sort();
  return join(state, logs.at(-1)!);
}

async function damaged(t: Test, damage: (state: string) => void): Promise<void> {
  const fake: FakeDiscord = await startFakeDiscord({
    scenario: singleChannel({ seed: 81, messages: 60, imageRatio: 0.8, sizes: [1_000, 4_000], special: 'duplicates' }),
  });
  t.teardown(() => fake.close());
  const dir = t.testdir();
  const channel = fake.scenario.guilds[0]!.channels[0]!;
  const options = { ...baseOptions(fake, dir, channel.id), state: join(dir, 'data', 'state') };
  const first = await runLibrary(options);
  t.equal(first.result.exitCode, 0, 'the first run archives everything');
  const files = first.events.filter((e) => e.event === 'saved').length;

  damage(options.state);
  fake.resetLog();
  const second = await runLibrary(options);
  t.equal(second.result.exitCode, 0, 'the re-run completes');
  const warnings = second.events.filter((e) => e.event === 'warning' && (e as { code?: string }).code === 'state_damaged');
  t.ok(warnings.length >= 1, `a state_damaged warning event: ${JSON.stringify(warnings[0])}`);
  t.match(second.logs.join(''), /warning: the state (lost records of #general|is damaged: LevelDB dropped)/, 'and a line on stderr');
  const gets = fake.requests.filter((r) => r.kind === 'cdn');
  t.equal(gets.length, 0, 'no file already in --out is downloaded again');
  const adopted = second.events.filter((e) => e.event === 'saved' && (e as { adopted?: boolean }).adopted === true);
  t.ok(adopted.length > 0, `${adopted.length} of ${files} files re-adopted (and announced)`);
  const announced = second.events.filter((e) => e.event === 'saved').map((e) => (e as { attachment_id: string }).attachment_id);
  t.same(announced, [...new Set(announced)], 'each announced once');
  await assertExact(t, fake, options.out, options.state, channel.id);

  fake.resetLog();
  const third = await runLibrary(options);
  t.same(
    third.events.filter((e) => e.event === 'warning'),
    [],
    'the next run finds nothing lost',
  );
  t.equal(fake.requests.filter((r) => r.kind === 'cdn').length, 0, 'and downloads nothing');
}

t.test('a truncated LevelDB log', (t) =>
  damaged(t, (state) => {
    const log = newestLog(state);
    truncateSync(log, Math.floor(statSync(log).size / 3));
  }),
);

t.test('a garbled LevelDB log', (t) =>
  damaged(t, (state) => {
    const log = newestLog(state);
    const size = statSync(log).size;
    const fd = openSync(log, 'r+');
    writeSync(fd, Buffer.alloc(Math.min(40_000, Math.floor(size / 2)), 0xa5), 0, undefined, Math.floor(size / 4));
    closeSync(fd);
  }),
);

t.test('a state deleted while progress.json stayed', (t) => damaged(t, (state) => rmSync(state, { recursive: true, force: true })));
