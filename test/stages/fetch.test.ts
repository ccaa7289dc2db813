// The fetch stage (lib/stages/fetch.ts) against the fake CDN on 127.0.0.1 and a real LevelDB: every item saved
// and recorded, results in input order; a failure's reason from the error's typed fields; a stop before the
// first unit or during a transfer rejects with the abort and leaves no file and no record behind.

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import t from 'tap';
import type { Test } from 'tap';
import { Agent } from 'undici';
import type { Dispatcher } from 'undici';
import { fetchFiles, reorderWindow } from '../../lib/stages/fetch.js';
import type { FetchOptions } from '../../lib/stages/fetch.js';
import { candidatePaths } from '../../lib/stages/claim-path.js';
import type { DownloadPool } from '../../lib/stages/download-pool.js';
import type { FilteredUnit, ItemResult } from '../../lib/types.js';
import { Semaphore } from '../../lib/util/semaphore.js';
import { listFiles } from '../helpers/harness.js';
import { stageWorld } from '../helpers/stage-items.js';
import type { StageWorld } from '../helpers/stage-items.js';

function optionsFor(world: StageWorld, agent: Dispatcher, over: Partial<FetchOptions> = {}): FetchOptions {
  return {
    pool: new Semaphore(4),
    agent,
    allowedOrigins: [new URL(world.fake.url).origin],
    out: world.out,
    namePattern: '{message_id}_{filename}',
    store: world.store,
    locks: world.locks,
    disk: world.disk,
    retries: 0,
    backoffMs: 1,
    ...over,
  };
}

async function* units(list: readonly FilteredUnit[]): AsyncGenerator<FilteredUnit> {
  yield* list;
}

async function run(source: AsyncIterable<FilteredUnit>, options: FetchOptions): Promise<{ results: ItemResult[]; error?: unknown }> {
  const results: ItemResult[] = [];
  try {
    for await (const result of fetchFiles(source, options)) results.push(result);
  } catch (error) {
    return { results, error };
  }
  return { results };
}

const agentFor = (t: Test): Agent => {
  const agent = new Agent();
  t.teardown(() => agent.close());
  return agent;
};
// The signal's own AbortError (the stage stops taking units) or DPS_ABORTED (a unit in flight saw it).
const isAbort = (error: unknown): boolean => (error as { name?: unknown })?.name === 'AbortError' || (error as { code?: unknown })?.code === 'DPS_ABORTED';
const cdnGets = (world: StageWorld): number => world.fake.requests.filter((r) => r.kind === 'cdn').length;

t.test('every item is downloaded, checked, recorded, and its result leaves in input order', async (t) => {
  const world = await stageWorld(t);
  t.ok(world.items.length >= 4, `${world.items.length} items`);
  const { results, error } = await run(units(world.items), optionsFor(world, agentFor(t)));
  t.equal(error, undefined);
  t.same(
    results.map((r) => (r.kind === 'saved' ? r.item.attachment_id : r.kind)),
    world.items.map((i) => i.attachment_id),
    'one saved result per item, in order',
  );
  for (const result of results) {
    if (result.kind !== 'saved') continue;
    const bytes = await readFile(result.path);
    t.equal(createHash('sha256').update(bytes).digest('hex'), result.sha256, `${result.item.filename}: the bytes it announces`);
    t.match(await world.store.getAttachment(result.item.attachment_id), { status: 'saved', path: result.path, sha256: result.sha256 }, 'recorded as saved');
  }
});

t.test('marks and skipped items pass through without a request', async (t) => {
  const world = await stageWorld(t);
  const item = world.items[0]!;
  const list: FilteredUnit[] = [
    { kind: 'mark', context: world.context, message_id: '5', messages: 2 },
    { kind: 'skipped', item, reason: 'too_large' },
  ];
  const { results } = await run(units(list), optionsFor(world, agentFor(t)));
  t.same(results, list);
  t.equal(cdnGets(world), 0);
});

t.test("failure reasons come from the error's fields: a size that disagrees is size_mismatch, a refused link http_404", async (t) => {
  const world = await stageWorld(t);
  const [first, second] = world.items;
  const wrongSize = { ...first!, size: first!.size! + 1 };
  const missing = { ...second!, url: second!.url.replace(second!.attachment_id, '1') }; // an attachment the CDN does not have
  const { results } = await run(units([wrongSize, missing]), optionsFor(world, agentFor(t)));
  t.match(results, [
    { kind: 'failed', reason: 'size_mismatch' },
    { kind: 'failed', reason: 'http_404', status: 404 },
  ]);
  t.same(await listFiles(world.out).catch(() => []), [], 'nothing written');
  t.equal(await world.store.getAttachment(first!.attachment_id), undefined, 'a failure is recorded by the checkpoint, not here');
});

// A one-slot pool that records what fetch tells it, and whether the slot was still held when it was told.
class RecordingPool implements DownloadPool {
  readonly slots = new Semaphore(1);
  readonly transfers: number[] = [];
  congestions = 0;
  heldAtCongestion = 0;
  readonly size = 1;
  readonly cap = 1;
  readonly saturated = false;
  streams = 0;
  mostStreams = 0;
  join(): () => void {
    this.streams++;
    this.mostStreams = Math.max(this.mostStreams, this.streams);
    return () => void this.streams--;
  }
  get inUse(): number {
    return this.slots.inUse;
  }
  get queued(): number {
    return this.slots.queued;
  }
  acquire(signal?: AbortSignal): Promise<() => void> {
    return this.slots.acquire(signal);
  }
  transferred(bytes: number): void {
    this.transfers.push(bytes);
  }
  congested(): void {
    this.congestions++;
    if (this.slots.inUse === 1) this.heldAtCongestion++;
  }
}

t.test('the pool hears each transfer with its size, and each 503 or reset before the slot is given back', async (t) => {
  const faults = { target: 'cdn' as const, error5xxRate: 0.25, resetRate: 0.2, seed: 5, cdnRetryAfterSec: 0 };
  const world = await stageWorld(t, { messages: 12 }, { faults });
  const pool = new RecordingPool();
  const { results, error } = await run(units(world.items), optionsFor(world, agentFor(t), { pool, retries: 8 }));
  t.equal(error, undefined);
  const saved = results.filter((r) => r.kind === 'saved');
  t.equal(saved.length, world.items.length, 'every item saved in the end');
  t.same(
    [...pool.transfers].sort((a, b) => a - b),
    saved.map((r) => r.item.size).sort((a, b) => a! - b!),
    'one transfer per saved file, with its size',
  );
  const cdn = world.fake.requests.filter((r) => r.kind === 'cdn');
  const congested = cdn.filter((r) => r.status === 503 || r.status === 0).length;
  t.ok(congested > 0, `${congested} of ${cdn.length} CDN answers were 503 or a reset`);
  t.equal(pool.congestions, congested, 'each one reported');
  t.equal(pool.heldAtCongestion, congested, 'while the slot was still held');
  t.equal(pool.mostStreams, 1, 'the stage fed the pool as one stream');
  t.equal(pool.streams, 0, 'and left it at its end');
});

t.test("the reorder window: eight per slot of the stream's share of the pool, at least what a pool of 8 gave", async (t) => {
  t.equal(reorderWindow(8, 1), 64, 'one stream, the starting 8 slots');
  t.equal(reorderWindow(64, 1), 512, 'one stream, 64 slots');
  t.equal(reorderWindow(64, 4), 128, 'four streams share 64 slots');
  t.equal(reorderWindow(64, 40), 64, 'forty: never fewer than a pool of 8 had');
  t.equal(reorderWindow(3, 40), 24, 'a pinned 3: eight per slot, as before');
  t.equal(reorderWindow(1, 0), 16, 'at least 16');
});

t.test('aborted before start: no request, no file', async (t) => {
  const world = await stageWorld(t);
  const controller = new AbortController();
  controller.abort();
  const { results, error } = await run(units(world.items), optionsFor(world, agentFor(t), { signal: controller.signal, transferSignal: controller.signal }));
  t.ok(isAbort(error), 'the stage rejects with the abort');
  t.same(results, []);
  t.equal(cdnGets(world), 0, 'nothing requested');
  t.same(await listFiles(world.out).catch(() => []), []);
});

t.test('aborted mid-flight: the held transfer is cancelled, nothing is written or recorded', async (t) => {
  const world = await stageWorld(t, {}, { cdnHoldAfter: 0 }); // every CDN response waits until released
  const controller = new AbortController();
  let dispatched!: () => void;
  const started = new Promise<void>((resolve) => (dispatched = resolve));
  const agent = agentFor(t);
  const watched = agent.compose((dispatch) => (options, handler) => {
    dispatched();
    return dispatch(options, handler);
  });
  const running = run(units(world.items), optionsFor(world, watched, { signal: controller.signal, transferSignal: controller.signal }));
  await started;
  controller.abort();
  const { results, error } = await running;
  t.ok(isAbort(error), 'the stage rejects with the abort');
  t.same(results, [], 'no result leaves');
  t.same(await listFiles(world.out).catch(() => []), [], 'no file and no temp file');
  for (const item of world.items) t.equal(await world.store.getAttachment(item.attachment_id), undefined, `${item.attachment_id}: no record`);
});

t.test('a retried download keeps its path claim between attempts: no other attachment can take the name', async (t) => {
  const world = await stageWorld(t, { messages: 1 }, { faults: { truncateRate: 1, target: 'cdn', seed: 1 } });
  const item = world.items[0]!;
  const options = optionsFor(world, agentFor(t), { retries: 1 });
  const { path } = candidatePaths(item, options);
  const others: Promise<boolean>[] = [];
  // Another attachment asks for the name while the failed attempt is being handled, before the retry.
  options.onRetry = () => others.push(world.store.claimPath(path, 'someone-else'));
  const { results, error } = await run(units([item]), options);
  t.error(error);
  t.match(results, [{ kind: 'failed', reason: 'network' }]);
  t.same(await Promise.all(others), [false], "one retry, the name still this attachment's");
  t.same(await listFiles(world.out).catch(() => []), [], 'no file at all');
});
