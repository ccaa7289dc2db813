// readAhead (lib/util/read-ahead.ts) and runConcurrently over it. No timers: the sources and tasks wait for a
// turn of the event loop or for a promise the test resolves.
import t from 'tap';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { readAhead } from '../../lib/util/read-ahead.js';
import { runConcurrently } from '../../lib/util/run-concurrently.js';

// A promise and the function that resolves it.
function gate(): { promise: Promise<void>; open: () => void } {
  let open: () => void = () => undefined;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

t.test('the source is read to its end while a slow consumer takes its items, in order', async (t) => {
  let produced = 0;
  let ended = false;
  async function* source() {
    for (let i = 0; i < 5; i++) {
      await nextTurn();
      produced++;
      yield i;
    }
    ended = true;
  }
  const out: number[] = [];
  for await (const value of readAhead(source())) {
    if (value === 0) {
      for (let turn = 0; turn < 10; turn++) await nextTurn(); // the consumer is busy with its first item
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
  const closed = gate();
  async function* source() {
    try {
      for (let i = 0; ; i++) {
        await nextTurn();
        produced++;
        yield i;
      }
    } finally {
      closed.open();
    }
  }
  let stops = 0;
  for await (const value of readAhead(source(), () => stops++)) if (value === 1) break;
  t.equal(stops, 1);
  await closed.promise;
  t.pass('the source was closed');
  t.ok(produced <= 4, `reading stopped (${produced} items read)`);
  let after = 0;
  for await (const value of readAhead([1, 2, 3], () => after++)) t.ok(value);
  t.equal(after, 0, 'a source read to its end is not stopped');
});

t.test('runConcurrently: a failing source stops new starts, lets running tasks settle, then throws', async (t) => {
  const work = gate(); // the running tasks finish only after the source has failed
  async function* source() {
    yield 1;
    yield 2;
    await nextTurn();
    setImmediate(work.open);
    throw new Error('resolution failed');
  }
  const finished: number[] = [];
  await t.rejects(
    runConcurrently(readAhead(source()), 4, undefined, async (i) => {
      await work.promise;
      finished.push(i);
    }),
    { message: 'resolution failed' },
  );
  t.same(finished.sort(), [1, 2], 'the tasks already running finished before the failure was thrown');
});

t.test('runConcurrently starts items of a slow source as they come, within the limit', async (t) => {
  let active = 0;
  let peak = 0;
  let sourceEnded = false;
  const slowItem = gate(); // item 3 comes only once the first task is running
  const ended = gate();
  async function* source() {
    for (let i = 0; i < 6; i++) {
      if (i === 3) await slowItem.promise;
      else await nextTurn();
      yield i;
    }
    sourceEnded = true;
    ended.open();
  }
  const startedBeforeEnd: boolean[] = [];
  await runConcurrently(readAhead(source()), 2, undefined, async (i) => {
    startedBeforeEnd.push(!sourceEnded);
    active++;
    peak = Math.max(peak, active);
    if (i === 0) {
      slowItem.open();
      await ended.promise; // the first task lasts until the source has ended
    } else await nextTurn();
    active--;
  });
  t.equal(startedBeforeEnd.length, 6);
  t.equal(peak, 2);
  t.ok(startedBeforeEnd[0], 'the first item started before the source ended');
});
