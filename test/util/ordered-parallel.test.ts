import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { orderedParallel } from '../../lib/util/ordered-parallel.js';
import { Semaphore } from '../../lib/util/semaphore.js';

async function* numbers(n: number) {
  for (let i = 0; i < n; i++) yield i;
}

t.test('results come out in input order while work runs concurrently within the pool', async (t) => {
  const pool = new Semaphore(3);
  let active = 0;
  let peak = 0;
  const out: number[] = [];
  for await (const value of orderedParallel(
    numbers(30),
    async (i) => {
      const release = await pool.acquire();
      active++;
      peak = Math.max(peak, active);
      await sleep((i * 7) % 5);
      active--;
      release();
      return i;
    },
    { window: 10 },
  ))
    out.push(value);
  t.same(out, [...Array(30).keys()]);
  t.equal(peak, 3);
});

t.test('the window bounds how far input is read ahead', async (t) => {
  let pulled = 0;
  async function* source() {
    for (let i = 0; i < 1000; i++) {
      pulled++;
      yield i;
    }
  }
  const it = orderedParallel(source(), async (i) => i, { window: 5 });
  await it.next();
  t.ok(pulled <= 6, `pulled ${pulled}`);
  await it.return(undefined);
});

t.test('a window given as a function is asked again before each unit: it can grow during the run', async (t) => {
  let window = 2;
  let active = 0;
  let peak = 0;
  const gates: Array<() => void> = [];
  const it = orderedParallel(
    numbers(20),
    async (i) => {
      active++;
      peak = Math.max(peak, active);
      await new Promise<void>((resolve) => gates.push(resolve));
      active--;
      return i;
    },
    { window: () => window },
  );
  const first = it.next();
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(peak, 2, 'two in flight at a window of 2');
  window = 6;
  gates.shift()?.();
  await first;
  const second = it.next();
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(active, 6, 'once the head left, up to the new window of 6');
  for (;;) {
    const gate = gates.shift();
    if (!gate) break;
    gate();
  }
  await second;
  await it.return(undefined);
});

t.test('an error at the head propagates after in-flight work settles', async (t) => {
  let settled = 0;
  const run = async () => {
    for await (const _ of orderedParallel(
      numbers(10),
      async (i) => {
        if (i === 0) {
          await sleep(5);
          throw new Error('boom');
        }
        await sleep(10);
        settled++;
        return i;
      },
      { window: 4 },
    ))
      void _;
  };
  await t.rejects(run(), /boom/);
  t.ok(settled >= 3, 'in-flight work finished before the error surfaced');
});

t.test('aborted before start', async (t) => {
  const controller = new AbortController();
  controller.abort(new Error('stop'));
  await t.rejects(async () => {
    for await (const _ of orderedParallel(numbers(3), async (i) => i, { window: 2, signal: controller.signal })) void _;
  }, /stop/);
});

t.test('semaphore waiters can be aborted', async (t) => {
  const pool = new Semaphore(1);
  const release = await pool.acquire();
  const controller = new AbortController();
  const waiting = pool.acquire(controller.signal);
  controller.abort(new Error('cancelled'));
  await t.rejects(waiting, /cancelled/);
  release();
  t.equal(pool.inUse, 0);
  t.throws(() => new Semaphore(0));
});
