// The run's download pool (lib/stages/download-pool.ts): a pinned number ignores outcomes; `auto` starts at 8,
// halves on congestion without taking slots back (no slot passes on until in-use is under the new limit), grows
// with throughput on its clock, never above the cap; a plain Semaphore is a fixed pool; congestion is read from
// typed fields only (status 429/503, a network failure with a reset code), never from a message.
import t from 'tap';
import { DownloadError } from '../../lib/errors.js';
import { asDownloadPool, createDownloadPool, isCongestion } from '../../lib/stages/download-pool.js';
import { Semaphore } from '../../lib/util/semaphore.js';

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

t.test('a pinned concurrency: the limit never moves, whatever the downloads report', async (t) => {
  const pool = createDownloadPool({ concurrency: 5, maxConcurrency: 64 });
  t.equal(pool.size, 5);
  const held = await Promise.all(Array.from({ length: 5 }, () => pool.acquire()));
  t.equal(pool.saturated, false, 'every slot in use, nothing waiting');
  const waiting = pool.acquire();
  t.equal(pool.saturated, true, 'a file waits for a slot that will not come sooner');
  for (const release of held) release();
  (await waiting)();
  t.equal(pool.cap, 5, 'the reorder window needs no more than the pinned number');
  pool.congested();
  for (let i = 0; i < 1000; i++) pool.transferred(1_000_000);
  t.equal(pool.size, 5);
});

t.test('a plain Semaphore is a fixed pool of its size, acquiring through it', async (t) => {
  let acquired = 0;
  class Counting extends Semaphore {
    override acquire(signal?: AbortSignal): Promise<() => void> {
      acquired++;
      return super.acquire(signal);
    }
  }
  const pool = asDownloadPool(new Counting(3));
  t.equal(pool.size, 3);
  t.equal(pool.cap, 3);
  (await pool.acquire())();
  t.equal(acquired, 1, "the Semaphore's own acquire");
  pool.congested();
  t.equal(pool.size, 3);
  const own = createDownloadPool({ concurrency: 'auto', maxConcurrency: 64 });
  t.equal(asDownloadPool(own), own, 'a pool is used as it is');
});

t.test('auto: starts at 8 under a cap of 64; congestion halves it, and slots held stay held', async (t) => {
  let now = 0;
  const pool = createDownloadPool({ concurrency: 'auto', maxConcurrency: 64, now: () => now });
  t.equal(pool.size, 8);
  t.equal(pool.cap, 64);
  const held = await Promise.all(Array.from({ length: 8 }, () => pool.acquire()));
  let granted = 0;
  const waiter = pool.acquire().then((release) => {
    granted++;
    return release;
  });
  pool.congested();
  t.equal(pool.size, 4, 'halved');
  for (const release of held.slice(0, 4)) release();
  await tick();
  t.equal(granted, 0, 'four still in use: not under the new limit');
  held[4]!();
  await tick();
  t.equal(granted, 1, 'in use under 4: the waiter gets a slot');
  now += 10;
  pool.congested();
  t.equal(pool.size, 4, 'the same congestion, reported by another download, is counted once');
  for (const release of held.slice(5)) release();
  (await waiter)();
});

t.test('auto: grows while throughput rises with it, never above the cap', async (t) => {
  let now = 0;
  const pool = createDownloadPool({ concurrency: 'auto', maxConcurrency: 20, now: () => now });
  // Always more downloads than slots; each takes 70 ms, so throughput is proportional to the limit.
  const held: Array<() => void> = [];
  const want = (): void => void pool.acquire().then((release) => held.push(release));
  for (let i = 0; i < 100; i++) want();
  await tick();
  t.equal(pool.saturated, false, 'files wait, but the pool is still to grow');
  let carry = 0;
  let most = 0;
  for (let step = 0; step < 600; step++) {
    now += 5;
    carry += (pool.size * 5) / 70;
    while (carry >= 1 && held.length > 0) {
      carry--;
      held.shift()?.();
      pool.transferred(100_000);
      want();
    }
    await tick();
    most = Math.max(most, held.length);
  }
  t.equal(pool.size, 20, 'grew to the cap');
  t.equal(pool.saturated, true, 'at the cap with files waiting: downloads are the bottleneck');
  t.equal(most, 20, 'never more slots in use than the cap');
});

t.test('the streams feeding a pool are counted; leaving twice counts once', async (t) => {
  const pool = createDownloadPool({ concurrency: 'auto', maxConcurrency: 64 });
  const a = pool.join();
  const b = pool.join();
  t.equal(pool.streams, 2);
  a();
  a();
  t.equal(pool.streams, 1);
  b();
  t.equal(pool.streams, 0);
  const fixed = asDownloadPool(new Semaphore(2));
  fixed.join();
  t.equal(fixed.streams, 1);
});

t.test('congestion is read from typed fields, never from a message', async (t) => {
  const http = (status: number): DownloadError => new DownloadError(`CDN answered ${status}`, { status, reason: `http_${status}` });
  t.ok(isCongestion(http(429)));
  t.ok(isCongestion(http(503)));
  t.notOk(isCongestion(http(404)));
  t.notOk(isCongestion(http(500)), 'a server error is not congestion');
  const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
  t.ok(isCongestion(new DownloadError('network error', { reason: 'network', cause: reset })), 'a reset, wrapped');
  t.ok(isCongestion(Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' })), "undici's closed socket, not wrapped");
  t.ok(isCongestion(Object.assign(new Error('terminated'), { cause: reset })), 'a reset as the cause of a failed body');
  const timeout = Object.assign(new Error('Headers Timeout Error'), { code: 'UND_ERR_HEADERS_TIMEOUT' });
  t.notOk(isCongestion(new DownloadError('network error', { reason: 'network', cause: timeout })), 'a timeout is not a reset');
  t.notOk(isCongestion(new DownloadError('size mismatch', { reason: 'size_mismatch', cause: reset })), 'only a network failure');
  t.notOk(isCongestion(new Error('CDN answered 429: ECONNRESET')), 'a message says nothing');
  t.notOk(isCongestion(undefined));
});
