// progress.json: a run keeps it beside its state (<dirname(state)>/progress.json), atomically, and `status()`
// answers from it while a run holds the state's lock.

import t from 'tap';
import type { Test } from 'tap';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { startFakeDiscord } from '../../fixtures/fake-discord.js';
import { singleChannel } from '../../fixtures/scenarios.js';
import { runArchive, status } from '../../lib/index.js';
import type { DpsEvent } from '../../lib/index.js';
import { ProgressFile, progressFilePath, runningStatus } from '../../lib/output/progress-file.js';
import type { ProgressFileReport } from '../../lib/output/progress-file.js';
import type { RunEstimate } from '../../lib/output/estimate.js';
import { openStore } from '../../lib/store/open.js';
import { Semaphore } from '../../lib/util/semaphore.js';
import { runLibrary } from '../helpers/harness.js';
import { baseOptions } from '../helpers/verify.js';

async function fakeFor(t: Test) {
  const fake = await startFakeDiscord({ scenario: singleChannel({ seed: 71, messages: 30, imageRatio: 0.7, sizes: [1_000, 3_000] }) });
  t.teardown(() => fake.close());
  return fake;
}

const read = (file: string): ProgressFileReport => JSON.parse(readFileSync(file, 'utf8')) as ProgressFileReport;

t.test('a run writes progress.json beside its state, as status() reports it', async (t) => {
  const fake = await fakeFor(t);
  const dir = t.testdir();
  const channel = fake.scenario.guilds[0]!.channels[0]!;
  const options = { ...baseOptions(fake, dir, channel.id), state: join(dir, 'data', 'state') };
  const run = await runLibrary(options);
  t.equal(run.result.exitCode, 0);
  const file = join(dir, 'data', 'progress.json');
  t.equal(progressFilePath(options.state), file, 'data/progress.json for data/state');
  const progress = read(file);
  t.equal(progress.state, resolve(options.state), 'names its state (absolute)');
  t.equal(progress.running, false, 'the last write is the end of the run');
  t.ok(!Number.isNaN(Date.parse(progress.updated_at)), `updated_at: ${progress.updated_at}`);
  const report = await status(options.state);
  t.same(progress.servers, report.servers, 'the same servers and channels as dps status');
  t.equal(report.as_of, undefined, 'status of an unlocked state reads the state itself');
  t.same(
    readdirSync(dirname(file)).filter((f) => f.endsWith('.tmp')),
    [],
    'no temp file left',
  );
});

// A pool whose only slot the test holds: the run waits at its first download until the test lets it go on.
class HeldPool extends Semaphore {
  waiting: Promise<void>;
  #reached!: () => void;
  constructor() {
    super(1);
    this.waiting = new Promise((resolve) => (this.#reached = resolve));
  }
  override async acquire(signal?: AbortSignal): Promise<() => void> {
    if (this.inUse >= this.size) this.#reached();
    return super.acquire(signal);
  }
}

t.test('status() answers from progress.json while a run holds the lock, and says how old it is', async (t) => {
  const fake = await fakeFor(t);
  const dir = t.testdir();
  const channel = fake.scenario.guilds[0]!.channels[0]!;
  const options = { ...baseOptions(fake, dir, channel.id), concurrency: 1 };
  // A first run fills the state; the second holds the lock while the test asks for the status.
  await runLibrary(options);
  fake.appendMessages(channel.id, 5, { imageRatio: 1 });
  const pool = new HeldPool();
  const hold = await pool.acquire();
  let clock = Date.parse('2030-01-01T00:00:00Z');
  const events: DpsEvent[] = [];
  const running = runArchive(options, { pool, emit: (e) => void events.push(e), progressFile: { intervalMs: 60_000, now: () => clock } });
  await pool.waiting;

  const report = await status(options.state);
  t.equal(report.as_of, '2030-01-01T00:00:00.000Z', 'as_of: when the running scrape wrote progress.json');
  t.type(report.age_ms, 'number', 'and its age');
  const entry = report.servers[fake.scenario.guilds[0]!.id]?.channels[channel.id];
  t.ok(entry && entry.total_images > 0 && entry.last_message_id !== null, 'with the channels as the state had them');
  t.equal(read(progressFilePath(options.state)).running, true, 'written as running');

  clock += 5_000;
  hold();
  const result = await running;
  t.equal(result.exitCode, 0);
  const final = read(progressFilePath(options.state));
  t.equal(final.updated_at, '2030-01-01T00:00:05.000Z', 'rewritten at the end of the run');
  t.equal(final.running, false);
  const after = await status(options.state);
  t.same(final.servers, after.servers, 'the end state');
  t.equal(after.as_of, undefined);
});

t.test('a locked state whose progress.json describes another state is still refused', async (t) => {
  const dir = t.testdir();
  const state = join(dir, 'state');
  const store = await openStore(state);
  t.teardown(() => store.close());
  const writer = new ProgressFile(store, join(dir, 'other-state'));
  await writer.start();
  await writer.close();
  await t.rejects(status(state), { code: 'DPS_STORE_LOCKED' });
});

t.test('progress.json is replaced atomically: a reader never sees part of it', async (t) => {
  const dir = t.testdir();
  const state = join(dir, 'state');
  const store = await openStore(state);
  t.teardown(() => store.close());
  for (let i = 0; i < 200; i++)
    await store.advanceCursor(`${100_000_000_000_000_000n + BigInt(i)}`, `${200_000_000_000_000_000n + BigInt(i)}`, {
      guild_id: '300000000000000000',
      guild_name: 'G',
      channel_name: `channel-${'x'.repeat(200)}-${i}`,
    });
  const file = progressFilePath(state);
  const writer = new ProgressFile(store, state, { intervalMs: 1 });
  await writer.start();
  let reads = 0;
  for (let i = 0; i < 300; i++) {
    const text = await readFile(file, 'utf8');
    const parsed = JSON.parse(text) as ProgressFileReport; // throws on a partial file
    t.equal(Object.keys(parsed.servers['300000000000000000']!.channels).length, 200);
    reads++;
    if (i % 10 === 0) await writer.close().then(() => writer.start());
  }
  await writer.close();
  t.equal(reads, 300);
  t.same(
    readdirSync(dir).filter((f) => f.endsWith('.tmp')),
    [],
    'no temp file left',
  );
});

t.test('while the run runs, progress.json carries its estimate, and status() passes it on, aged', async (t) => {
  const dir = t.testdir();
  const state = join(dir, 'state');
  const store = await openStore(state);
  t.teardown(() => store.close());
  const written = Date.parse('2020-01-01T00:00:00Z'); // long ago: status() finds no time left
  const writer = new ProgressFile(store, state, { intervalMs: 60_000, now: () => written });
  let estimate: RunEstimate | undefined = { eta_ms: 192_000, pages_left: 1234, channels_left: 5, channels_running: 3, downloads: 24, downloads_waiting: 7 };
  writer.setEstimate(() => estimate);
  await writer.start();
  const file = read(progressFilePath(state));
  t.equal(file.running, true);
  t.same(
    file.estimate,
    { eta_ms: 192_000, finish_at: '2020-01-01T00:03:12.000Z', pages_left: 1234, channels_left: 5, channels_running: 3 },
    'eta_ms, finish_at (from its clock), pages and channels left, channels running',
  );

  const running = await runningStatus(state, {}, () => written + 12_000);
  t.same(running?.estimate, { ...file.estimate, eta_ms: 180_000 }, 'status: the time left less the age of the file');
  const locked = await status(state);
  t.equal(locked.as_of, '2020-01-01T00:00:00.000Z', 'status() answers from progress.json');
  t.same(locked.estimate, { ...file.estimate, eta_ms: 0 }, 'with the estimate, aged by the time since');

  estimate = { pages_left: 40, channels_left: 2, channels_running: 2, downloads: 8 };
  t.same(writer.snapshot(true).estimate, { pages_left: 40, channels_left: 2, channels_running: 2 }, 'no eta_ms or finish_at while unknown');
  estimate = undefined;
  t.notOk('estimate' in writer.snapshot(true), 'no estimate at all while the run has none');
  estimate = { eta_ms: 1000, pages_left: 1, channels_left: 1, channels_running: 1, downloads: 8 };
  t.notOk('estimate' in writer.snapshot(false), 'none once the run is over');

  await writer.close();
  const final = read(progressFilePath(state));
  t.equal(final.running, false);
  t.notOk('estimate' in final, 'the last write has none');
  t.equal((await runningStatus(state, {}, () => written))?.estimate, undefined, 'nor does status() then');
});

t.test('status() reports no estimate from a progress.json that is not running, or without one', async (t) => {
  const dir = t.testdir();
  const state = join(dir, 'state');
  const store = await openStore(state);
  t.teardown(() => store.close());
  const writer = new ProgressFile(store, state, { intervalMs: 60_000 });
  await writer.start();
  const file = progressFilePath(state);
  t.notOk('estimate' in read(file), 'no estimate function installed: no estimate');
  t.equal((await status(state)).estimate, undefined);
  await writer.close();
  // A stale file that says it is not running cannot speak for a run: its estimate is not passed on.
  const stale = { ...read(file), estimate: { eta_ms: 1000, pages_left: 1, channels_left: 1, channels_running: 1 } };
  writeFileSync(file, JSON.stringify(stale));
  t.equal((await status(state)).estimate, undefined, 'not while running: false');
  writeFileSync(file, JSON.stringify({ ...stale, running: true }));
  t.equal((await status(state)).estimate?.pages_left, 1, 'and passed on when running: true');
});
