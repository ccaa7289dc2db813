// Crash safety with real child processes (the built CLI): kill -9 at random points of one archive, each time
// followed by a resume, ends byte-exact with no duplicates and no stray temp files, and never leaves a partial
// file under a final name; SIGTERM / SIGINT finish in-flight writes, save progress and exit 143 / 130.

import t from 'tap';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { startFakeDiscord } from '../../fixtures/fake-discord.js';
import type { FakeDiscord } from '../../fixtures/fake-discord.js';
import { singleChannel } from '../../fixtures/scenarios.js';
import { spawn } from 'node:child_process';
import { CLI, collect, listFiles, runCli, sha256File } from '../helpers/harness.js';
import { assertExact } from '../helpers/verify.js';

// A small deterministic PRNG, so a failing sequence of kill points can be replayed.
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 0x100000000;
  };
}

function cliArgs(fake: FakeDiscord, dir: string, channelId: string): string[] {
  const guild = fake.scenario.guilds[0]!;
  return ['--server-id', guild.id, '--channel-id', channelId, '--api', fake.api, '--out', join(dir, 'out'), '--state', join(dir, 'state'), '--types', 'all', '--concurrency', '4', '--no-progress'];
}

// Spawns the built CLI and kills it with SIGKILL after `delayMs`, or right after its `saves`-th saved event.
function runKilled(args: string[], env: Record<string, string>, cwd: string, at: { delayMs?: number; saves?: number }): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, [CLI, ...args], { cwd, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const kill = (): void => void (child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'));
    const timer = at.delayMs === undefined ? undefined : setTimeout(kill, at.delayMs);
    let seen = 0;
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      if (at.saves !== undefined && (seen += chunk.split('"event":"saved"').length - 1) >= at.saves) kill();
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stderr });
    });
  });
}

const env = (fake: FakeDiscord): Record<string, string> => ({ DISCORD_TOKEN: fake.token });

t.test('kill -9 at 10 random points, each followed by a resume, ends byte-exact', async (t) => {
  const fake = await startFakeDiscord({
    scenario: singleChannel({ seed: 41, messages: 500, imageRatio: 0.6, sizes: [1_000, 40_000], special: 'duplicates' }),
    cdnLatencyMs: 25,
  });
  t.teardown(() => fake.close());
  const dir = t.testdir();
  const channel = fake.scenario.guilds[0]!.channels[0]!;
  const args = cliArgs(fake, dir, channel.id);
  const out = join(dir, 'out');
  const expected = await collect(fake.expected({ channelId: channel.id }));
  const goodHashes = new Set(expected.map((e) => e.sha256));
  const seed = Number(process.env.DPS_KILL_SEED ?? 20240607);
  const random = prng(seed);
  t.comment(`kill seed ${seed} (set DPS_KILL_SEED to replay)`);
  let killed = 0;
  for (let round = 0; round < 10; round++) {
    // Half the kills land at a random time (startup, paging, store open...), half after a random number of saves.
    const bySaves = round % 2 === 1;
    const saves = 1 + Math.floor(random() * 25);
    const delayMs = 150 + Math.floor(random() * 900);
    const result = await runKilled(args, env(fake), dir, bySaves ? { saves } : { delayMs });
    if (result.signal === 'SIGKILL') killed++;
    else t.equal(result.code, 0, `round ${round} finished before its kill point: ${result.stderr}`);
    // Whatever the moment of the kill, a file under its final name is complete.
    for (const file of await listFiles(out)) {
      if (file.endsWith('.dps-tmp')) continue;
      const hash = await sha256File(join(out, file));
      if (!goodHashes.has(hash)) t.fail(`partial or wrong file under its final name after round ${round}: ${file}`);
    }
  }
  t.ok(killed >= 8, `${killed} of 10 runs were killed mid-flight`);
  const final = await runCli(args, { env: env(fake), cwd: dir });
  t.equal(final.code, 0, `the resume completes: ${final.stderr}`);
  t.equal(final.lines.at(-1)?.event, 'summary');
  await assertExact(t, fake, out, join(dir, 'state'), channel.id);
  const files = await listFiles(out);
  t.equal(files.length, expected.length, 'exactly one file per attachment (duplicates are hard links, nothing doubled)');
  const again = await runCli(args, { env: env(fake), cwd: dir });
  t.equal(again.lines.filter((l) => l.event === 'saved').length, 0, 'a further run downloads nothing');
});

for (const [signal, code] of [['SIGTERM', 143], ['SIGINT', 130]] as const) {
  t.test(`${signal} finishes in-flight writes, saves progress and exits ${code}; the resume completes`, async (t) => {
    const fake = await startFakeDiscord({
      scenario: singleChannel({ seed: signal === 'SIGTERM' ? 42 : 43, messages: 300, imageRatio: 0.6, sizes: [1_000, 20_000] }),
      cdnLatencyMs: 40,
    });
    t.teardown(() => fake.close());
    const dir = t.testdir();
    const channel = fake.scenario.guilds[0]!.channels[0]!;
    const args = cliArgs(fake, dir, channel.id);
    let seen = 0;
    const first = await runCli(args, {
      env: env(fake),
      cwd: dir,
      killAfter: (line, child) => {
        if (line.includes('"event":"saved"') && ++seen === 20) child.kill(signal);
      },
    });
    t.equal(first.code, code, `exit code ${code}`);
    const summary = first.lines.at(-1) as { event?: string; exit_code?: number } | undefined;
    t.equal(summary?.event, 'summary', 'the summary is still printed');
    t.equal(summary?.exit_code, code, 'with the same exit code');
    t.same((await listFiles(join(dir, 'out'))).filter((f) => f.endsWith('.dps-tmp')), [], 'no temp files after a clean stop');
    const savedFirst = new Set(first.lines.filter((l) => l.event === 'saved').map((l) => l.attachment_id));
    const resume = await runCli(args, { env: env(fake), cwd: dir });
    t.equal(resume.code, 0, `the resume completes: ${resume.stderr}`);
    const savedAgain = resume.lines.filter((l) => l.event === 'saved').map((l) => l.attachment_id);
    t.same(savedAgain.filter((id) => savedFirst.has(id)), [], 'nothing saved by the interrupted run is downloaded again');
    await assertExact(t, fake, join(dir, 'out'), join(dir, 'state'), channel.id);
  });
}
