// The semaphore (lib/util/semaphore.ts): at most `size` slots in use, waiters served in order; a larger limit
// serves waiters at once; a smaller one takes no slot back, and releases pass no slot on until in-use is under it;
// an aborted wait rejects and leaves its place.
import t from 'tap';
import { getEventListeners } from 'node:events';
import { Semaphore } from '../../lib/util/semaphore.js';

// Lets pending promise callbacks run.
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

// Acquires in the background, recording the order slots are granted in.
function waitFor(pool: Semaphore, name: string, granted: string[], signal?: AbortSignal): Promise<() => void> {
  return pool.acquire(signal).then((release) => {
    granted.push(name);
    return release;
  });
}

t.test('at most size slots; a release passes the slot to the oldest waiter', async (t) => {
  const pool = new Semaphore(2);
  const a = await pool.acquire();
  await pool.acquire();
  const granted: string[] = [];
  const c = waitFor(pool, 'c', granted);
  void waitFor(pool, 'd', granted);
  await tick();
  t.same(granted, [], 'no third slot');
  t.equal(pool.inUse, 2);
  t.equal(pool.queued, 2);
  a();
  a(); // a second release of the same slot is nothing
  await tick();
  t.same(granted, ['c'], 'the oldest waiter got the slot');
  t.equal(pool.inUse, 2);
  (await c)();
  await tick();
  t.same(granted, ['c', 'd']);
});

t.test('a larger limit hands its new slots to waiters at once', async (t) => {
  const pool = new Semaphore(1);
  await pool.acquire();
  const granted: string[] = [];
  for (const name of ['b', 'c', 'd']) void waitFor(pool, name, granted);
  await tick();
  pool.resize(3);
  await tick();
  t.same(granted, ['b', 'c'], 'two new slots, two waiters served');
  t.equal(pool.size, 3);
  t.equal(pool.inUse, 3);
  t.equal(pool.queued, 1);
});

t.test('a smaller limit below the slots in use: releases pass nothing on until in-use is under it', async (t) => {
  const pool = new Semaphore(4);
  const held = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire(), pool.acquire()]);
  const granted: string[] = [];
  void waitFor(pool, 'w1', granted);
  void waitFor(pool, 'w2', granted);
  pool.resize(2);
  t.equal(pool.inUse, 4, 'no slot is taken back');
  held[0]!();
  held[1]!();
  await tick();
  t.same(granted, [], 'two releases: in use 2, not under the limit of 2');
  t.equal(pool.inUse, 2);
  held[2]!();
  await tick();
  t.same(granted, ['w1'], 'in use 1 < 2: one waiter served');
  t.equal(pool.inUse, 2);
  // A new acquirer does not jump the queue while a waiter is left.
  const late = waitFor(pool, 'late', granted);
  held[3]!();
  await tick();
  t.same(granted, ['w1', 'w2']);
  t.equal(pool.queued, 1);
  void late;
});

t.test('an aborted wait rejects, leaves its place and no listener', async (t) => {
  const pool = new Semaphore(1);
  const release = await pool.acquire();
  const controller = new AbortController();
  const granted: string[] = [];
  const waiting = waitFor(pool, 'aborted', granted, controller.signal);
  void waitFor(pool, 'next', granted);
  controller.abort(new Error('stop'));
  await t.rejects(waiting, { message: 'stop' });
  t.equal(getEventListeners(controller.signal, 'abort').length, 0);
  release();
  await tick();
  t.same(granted, ['next'], 'the slot went to the next waiter');
  await t.rejects(pool.acquire(controller.signal), { message: 'stop' }, 'an aborted signal is refused at once');
});

t.test('a size that is not a positive integer is refused', async (t) => {
  t.throws(() => new Semaphore(0), RangeError);
  t.throws(() => new Semaphore(1.5), RangeError);
  t.throws(() => new Semaphore(2).resize(0), RangeError);
});
