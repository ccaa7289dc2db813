// An output folder that cannot take files (a regular file as --out, a read-only mount, no permission) is one
// DPS_OUTPUT error: the run stops before downloading more than one file, with a summary and one clear line on
// stderr, and nothing is retried or blamed on the network.

import t from 'tap';
import type { Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { startFakeDiscord } from '../../fixtures/fake-discord.js';
import type { FakeDiscord } from '../../fixtures/fake-discord.js';
import { singleChannel } from '../../fixtures/scenarios.js';
import { itemFolder } from '../../lib/stages/claim-path.js';
import { runLibrary } from '../helpers/harness.js';
import type { RunOutput } from '../helpers/harness.js';
import { mountTmpfs, unmountTmpfs } from '../helpers/tmpfs.js';
import { assertExact, baseOptions } from '../helpers/verify.js';

const cdnGets = (fake: FakeDiscord): number => fake.requests.filter((r) => r.route.startsWith('GET /attachments')).length;

async function withFake(t: Test): Promise<FakeDiscord> {
  const fake = await startFakeDiscord({ scenario: singleChannel({ seed: 61, messages: 40, imageRatio: 0.8, sizes: [2_000, 8_000] }) });
  t.teardown(() => fake.close());
  return fake;
}

// The run stopped with DPS_OUTPUT: exit 1, a summary naming the folder, one stderr line, no `failed` as network.
function assertStopped(t: Test, fake: FakeDiscord, run: RunOutput, maxGets: number): void {
  t.equal(run.result.exitCode, 1, 'exit code 1');
  const summary = run.events.at(-1) as { event: string; error?: string; exit_code: number };
  t.equal(summary.event, 'summary', 'the run ends with a summary');
  t.match(summary.error ?? '', /cannot write to the output folder/, `the summary names the cause: ${summary.error}`);
  const lines = run.logs
    .join('')
    .split('\n')
    .filter((l) => /output folder/.test(l));
  t.equal(lines.length, 1, `one clear line on stderr: ${lines[0]}`);
  t.same(
    run.events.filter((e) => e.event === 'failed' && (e as { reason?: string }).reason === 'network'),
    [],
    'nothing blamed on the network',
  );
  t.equal(run.events.filter((e) => e.event === 'saved').length, 0, 'nothing announced as saved');
  t.ok(cdnGets(fake) <= maxGets, `at most ${maxGets} CDN GET(s): ${cdnGets(fake)}`);
}

t.test('--out is a regular file', async (t) => {
  const fake = await withFake(t);
  const dir = t.testdir();
  const channel = fake.scenario.guilds[0]!.channels[0]!;
  const options = { ...baseOptions(fake, dir, channel.id), retries: 5, backoffMs: 1 };
  writeFileSync(options.out, 'not a folder');
  const run = await runLibrary(options);
  assertStopped(t, fake, run, 1);
  t.match(run.logs.join(''), /a file is in the way|not a folder|EEXIST|ENOTDIR/, 'says what is wrong');
});

t.test('--out below a regular file', async (t) => {
  const fake = await withFake(t);
  const dir = t.testdir();
  const channel = fake.scenario.guilds[0]!.channels[0]!;
  writeFileSync(join(dir, 'file'), 'x');
  const options = { ...baseOptions(fake, dir, channel.id), out: join(dir, 'file', 'out'), retries: 5, backoffMs: 1 };
  const run = await runLibrary(options);
  assertStopped(t, fake, run, 1);
});

// A read-only mount: root ignores permission bits, but not a read-only file system.
function readOnlyMount(t: Test, what: string): { dir: string; out: string } | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'dps-rofs-'));
  const out = join(dir, 'out');
  mkdirSync(out);
  const mounted = mountTmpfs(out, '4m');
  t.teardown(() => {
    if (mounted) unmountTmpfs(out);
    rmSync(dir, { recursive: true, force: true });
  });
  if (!mounted) {
    t.pass(`skipped: cannot mount a tmpfs here (needs root), so ${what} is not exercised`, { skip: true });
    return undefined;
  }
  return { dir, out };
}

t.test('--out on a read-only file system; the re-run after it is writable again completes', async (t) => {
  const where = readOnlyMount(t, 'a read-only --out');
  if (!where) return;
  const fake = await withFake(t);
  const channel = fake.scenario.guilds[0]!.channels[0]!;
  const options = { ...baseOptions(fake, where.dir, channel.id), out: where.out, retries: 5, backoffMs: 1 };
  execFileSync('mount', ['-o', 'remount,ro', where.out]);
  const run = await runLibrary(options);
  assertStopped(t, fake, run, 1);
  t.match(run.logs.join(''), /read-only file system \(EROFS\)/, 'names the read-only file system');

  execFileSync('mount', ['-o', 'remount,rw', where.out]);
  const second = await runLibrary(options);
  t.equal(second.result.exitCode, 0, 'the re-run completes');
  await assertExact(t, fake, where.out, options.state, channel.id);
});

t.test('a read-only channel folder met mid-run stops the run after one GET; nothing retried', async (t) => {
  const where = readOnlyMount(t, 'a read-only channel folder');
  if (!where) return;
  const fake = await withFake(t);
  const channel = fake.scenario.guilds[0]!.channels[0]!;
  // --out itself is writable (the up-front check passes); the channel's folder is a read-only mount.
  const root = join(where.dir, 'root');
  const options = { ...baseOptions(fake, where.dir, channel.id), out: root, retries: 5, backoffMs: 1, concurrency: 8 };
  const guild = fake.scenario.guilds[0]!;
  const context = { guild_id: guild.id, guild_name: guild.name, channel_id: channel.id, channel_name: channel.name };
  const folder = itemFolder(root, { context } as never);
  mkdirSync(folder, { recursive: true });
  execFileSync('mount', ['--bind', where.out, folder]);
  t.teardown(() => execFileSync('umount', ['-l', folder], { stdio: 'ignore' }));
  execFileSync('mount', ['-o', 'remount,ro,bind', folder]);
  const run = await runLibrary(options);
  // The first file into a folder goes alone: its failed write stops the run before any other GET.
  assertStopped(t, fake, run, 1);
  t.equal(cdnGets(fake), 1, 'exactly one file was requested');
});

t.test('--out without write permission (EACCES; root ignores it, so only checked as another user)', async (t) => {
  const dir = t.testdir();
  const out = join(dir, 'out');
  mkdirSync(out);
  chmodSync(out, 0o500);
  t.teardown(() => {
    try {
      chmodSync(out, 0o700);
    } catch {
      // already removed
    }
  });
  if (process.getuid?.() === 0) {
    t.pass('skipped: running as root, permission bits do not stop writes', { skip: true });
    return;
  }
  const fake = await withFake(t);
  const channel = fake.scenario.guilds[0]!.channels[0]!;
  const run = await runLibrary({ ...baseOptions(fake, dir, channel.id), out, retries: 5, backoffMs: 1 });
  assertStopped(t, fake, run, 1);
  t.match(run.logs.join(''), /permission denied \(EACCES\)/);
});

t.test('a file in the way of a channel folder stops the run (DPS_OUTPUT), nothing retried', async (t) => {
  const fake = await withFake(t);
  const dir = t.testdir();
  const channel = fake.scenario.guilds[0]!.channels[0]!;
  const options = { ...baseOptions(fake, dir, channel.id), retries: 5, backoffMs: 1, concurrency: 8 };
  const guild = fake.scenario.guilds[0]!;
  const context = { guild_id: guild.id, guild_name: guild.name, channel_id: channel.id, channel_name: channel.name };
  const folder = itemFolder(options.out, { context } as never);
  mkdirSync(dirname(folder), { recursive: true });
  writeFileSync(folder, 'a file where the channel folder goes');
  const run = await runLibrary(options);
  t.equal(run.result.exitCode, 1, 'exit code 1');
  const summary = run.events.at(-1) as { event: string; error?: string };
  t.equal(summary.event, 'summary');
  t.match(summary.error ?? '', /a file is in the way of a folder/, `the summary names the cause: ${summary.error}`);
  t.same(
    run.events.filter((e) => e.event === 'failed'),
    [],
    'no file blamed',
  );
  const gets = fake.requests.filter((r) => r.kind === 'cdn').map((r) => r.path);
  t.same(gets, [...new Set(gets)], 'no file requested twice');
  t.ok(gets.length <= 1, `at most one GET (${gets.length})`);
});
