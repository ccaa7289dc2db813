import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { readAhead } from '../../lib/util/read-ahead.js';
import { runConcurrently } from '../../lib/util/run-concurrently.js';

t.test('the source is read to its end while a slow consumer takes its items, in order', async (t) => {
  let produced = 0;
  let ended = false;
  async function* source() {
    for (let i = 0; i < 5; i++) {
      await sleep(1);
      produced++;
      yield i;
    }
    ended = true;
  }
  const out: number[] = [];
  for await (const value of readAhead(source())) {
    if (value === 0) {
      await sleep(50); // the consumer is busy with its first item
      t.ok(ended, `the source ended meanwhile (${produced} items read)`);
    }
    out.push(value);
  }
  t.same(out, [0, 1, 2, 3, 4]);
});

t.test('a failure of the source comes after the items read before it', async (t) => {
  async function* source() {
    yield 1;
    yield 2;
    throw new Error('listing failed');
  }
  const out: number[] = [];
  await t.rejects(
    (async () => {
      for await (const value of readAhead(source())) out.push(value);
    })(),
    { message: 'listing failed' },
  );
  t.same(out, [1, 2]);
});

t.test('stopping early stops the reading and calls onStop once', async (t) => {
  let produced = 0;
  let closed = false;
  async function* source() {
    try {
      for (let i = 0; ; i++) {
        await sleep(2);
        produced++;
        yield i;
      }
    } finally {
      closed = true;
    }
  }
  let stops = 0;
  for await (const value of readAhead(source(), () => stops++)) if (value === 1) break;
  t.equal(stops, 1);
  await sleep(20);
  t.ok(closed, 'the source was closed');
  t.ok(produced <= 4, `reading stopped (${produced} items read)`);
  let after = 0;
  for await (const value of readAhead([1, 2, 3], () => after++)) t.ok(value);
  t.equal(after, 0, 'a source read to its end is not stopped');
});

t.test('runConcurrently: a failing source stops new starts, lets running tasks settle, then throws', async (t) => {
  async function* source() {
    yield 1;
    yield 2;
    await sleep(5);
    throw new Error('resolution failed');
  }
  const finished: number[] = [];
  await t.rejects(
    runConcurrently(readAhead(source()), 4, undefined, async (i) => {
      await sleep(30);
      finished.push(i);
    }),
    { message: 'resolution failed' },
  );
  t.same(finished.sort(), [1, 2], 'the tasks already running finished before the failure was thrown');
});

t.test('runConcurrently starts items of a slow source as they come, within the limit', async (t) => {
  const started: number[] = [];
  let active = 0;
  let peak = 0;
  let sourceEnded = Infinity;
  async function* source() {
    for (let i = 0; i < 6; i++) {
      await sleep(i === 3 ? 40 : 1);
      yield i;
    }
    sourceEnded = Date.now();
  }
  await runConcurrently(readAhead(source()), 2, undefined, async (i) => {
    started.push(Date.now());
    active++;
    peak = Math.max(peak, active);
    await sleep(i === 0 ? 60 : 5);
    active--;
  });
  t.equal(started.length, 6);
  t.equal(peak, 2);
  t.ok(started[0]! < sourceEnded, 'the first item started before the source ended');
});
