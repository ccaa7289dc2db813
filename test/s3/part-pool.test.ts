// lib/s3/part-pool.ts: the run's part buffers. Never more than `capacity` alive; a waiter is served in order by
// the next buffer given back (the same buffer: reused, not reallocated); a discarded buffer makes room for a new
// one; an aborted wait leaves the queue; once every buffer is back none is kept.

import t from 'tap';
import { PartPool } from '../../lib/s3/part-pool.js';

const PART = 1024;

t.test('at most capacity buffers; waiters get released buffers in arrival order', async (t) => {
  const pool = new PartPool(PART, 2);
  const a = await pool.acquire();
  const b = await pool.acquire();
  t.equal(a.length, PART);
  t.not(a, b);
  const order: string[] = [];
  const served = (name: string) => (buffer: Buffer) => {
    order.push(name);
    return buffer;
  };
  const c = pool.acquire().then(served('c'));
  const d = pool.acquire().then(served('d'));
  await new Promise((resolve) => setImmediate(resolve));
  t.same(order, [], 'both wait: the pool is at capacity');
  t.equal(pool.alive, 2);
  pool.release(b);
  t.equal(await c, b, 'the first waiter gets the buffer given back, not a new one');
  pool.release(a);
  t.equal(await d, a);
  t.same(order, ['c', 'd']);
  t.equal(pool.peak, 2, 'never more than capacity');
});

t.test('a discarded buffer is replaced by a new one for the next waiter', async (t) => {
  const pool = new PartPool(PART, 1);
  const a = await pool.acquire();
  const next = pool.acquire();
  pool.discard();
  const b = await next;
  t.not(b, a, 'the discarded buffer is never handed out again');
  t.equal(pool.alive, 1);
  t.equal(pool.peak, 1);
  pool.release(b);
  t.equal(pool.alive, 0);
});

t.test('an aborted wait rejects with the reason and leaves the queue', async (t) => {
  const pool = new PartPool(PART, 1);
  const a = await pool.acquire();
  const controller = new AbortController();
  const waiting = pool.acquire(controller.signal);
  const reason = new Error('stop');
  controller.abort(reason);
  await t.rejects(waiting, reason);
  const after = pool.acquire();
  pool.release(a);
  t.equal(await after, a, 'the next waiter is served, not the aborted one');
  await t.rejects(pool.acquire(controller.signal), reason, 'aborted before the call');
});

t.test('once every buffer is back none is kept; free ones are reused meanwhile', async (t) => {
  const pool = new PartPool(PART, 3);
  const a = await pool.acquire();
  const b = await pool.acquire();
  pool.release(a);
  t.equal(await pool.acquire(), a, 'a free buffer is reused');
  pool.release(a);
  t.equal(pool.alive, 2);
  pool.release(b);
  t.equal(pool.alive, 0, 'all back: let go');
  t.throws(() => new PartPool(PART, 0), RangeError);
});
