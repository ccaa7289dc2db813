// The channel scheduler: largest first, within the slots, failures stop new starts.

import t from 'tap';
import { fixedSlots, runLargestFirst } from '../lib/run-schedule.js';
import type { ChannelSlots } from '../lib/run-schedule.js';

interface Job {
  name: string;
  size: number | undefined;
}

// A task whose end the test controls: `release(name)` ends it.
function controlled() {
  const started: string[] = [];
  const ends = new Map<string, () => void>();
  let running = 0;
  let most = 0;
  const task = (job: Job): Promise<void> => {
    started.push(job.name);
    running++;
    most = Math.max(most, running);
    return new Promise<void>((resolve) =>
      ends.set(job.name, () => {
        running--;
        resolve();
      }),
    );
  };
  const release = async (name: string): Promise<void> => {
    ends.get(name)?.();
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
  };
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
  };
  return { started, task, release, settle, most: () => most };
}

const jobs = (...sizes: Array<[string, number | undefined]>): Job[] => sizes.map(([name, size]) => ({ name, size }));

t.test('items ready together start largest first; an unknown size goes last', async (t) => {
  const c = controlled();
  const run = runLargestFirst(
    jobs(['small', 3], ['unknown', undefined], ['huge', 100], ['mid', 10], ['tie-a', 7], ['tie-b', 7]),
    { slots: fixedSlots(1), size: (j) => j.size },
    c.task,
  );
  await c.settle();
  for (const name of ['huge', 'mid', 'tie-a', 'tie-b', 'small', 'unknown']) await c.release(name);
  await run;
  t.same(c.started, ['huge', 'mid', 'tie-a', 'tie-b', 'small', 'unknown'], 'by size, ties in arrival order');
});

t.test('sizes that take time to estimate are all known before the first start', async (t) => {
  const c = controlled();
  const size = async (job: Job): Promise<number | undefined> => {
    await new Promise((resolve) => setTimeout(resolve, job.size === 50 ? 5 : 0)); // a slow store lookup for the largest
    return job.size;
  };
  const run = runLargestFirst(jobs(['a', 1], ['b', 50], ['c', 2]), { slots: fixedSlots(1), size }, c.task);
  while (c.started.length === 0) await c.settle();
  t.same(c.started, ['b']);
  await c.release('b');
  await c.release('c');
  await c.release('a');
  await run;
  t.same(c.started, ['b', 'c', 'a']);
});

t.test('a late arrival waits its turn by size among those still waiting', async (t) => {
  const c = controlled();
  let arrive: (() => void) | undefined;
  async function* source(): AsyncGenerator<Job> {
    yield { name: 'first', size: 5 };
    yield { name: 'tiny', size: 1 };
    await new Promise<void>((resolve) => (arrive = resolve));
    yield { name: 'late-huge', size: 1000 };
  }
  const run = runLargestFirst(source(), { slots: fixedSlots(1), size: (j) => j.size }, c.task);
  await c.settle();
  t.same(c.started, ['first']);
  arrive?.();
  await c.settle();
  await c.release('first');
  t.same(c.started, ['first', 'late-huge'], 'the late arrival goes before the smaller one that waited');
  await c.release('late-huge');
  await c.release('tiny');
  await run;
});

t.test('never more running than the slots allow; more start as soon as they allow more', async (t) => {
  const c = controlled();
  let limit = 2;
  const listeners: Array<() => void> = [];
  const slots: ChannelSlots = { allowed: () => limit, onChange: (listener) => listeners.push(listener) };
  const run = runLargestFirst(jobs(['a', 6], ['b', 5], ['c', 4], ['d', 3], ['e', 2]), { slots, size: (j) => j.size }, c.task);
  await c.settle();
  t.same(c.started, ['a', 'b']);
  limit = 4;
  for (const listener of listeners) listener();
  await c.settle();
  t.same(c.started, ['a', 'b', 'c', 'd'], 'two more once the limit grew');
  limit = 1;
  await c.release('a');
  await c.release('b');
  await c.release('c');
  t.same(c.started, ['a', 'b', 'c', 'd'], 'nothing starts while more run than the lowered limit');
  await c.release('d');
  t.same(c.started, ['a', 'b', 'c', 'd', 'e']);
  await c.release('e');
  await run;
  t.equal(c.most(), 4);
});

t.test('a failing task stops new starts; its error is thrown once the running ones settle', async (t) => {
  const c = controlled();
  const boom = new Error('boom');
  const task = (job: Job): Promise<void> => (job.name === 'bad' ? Promise.reject(boom) : c.task(job));
  const run = runLargestFirst(jobs(['ok', 10], ['bad', 9], ['never', 1]), { slots: fixedSlots(2), size: (j) => j.size }, task);
  let settled = false;
  void run.catch(() => undefined).finally(() => (settled = true));
  await c.settle();
  t.same(c.started, ['ok']);
  t.notOk(settled, 'waits for the running task');
  await c.release('ok');
  await t.rejects(run, boom);
  t.same(c.started, ['ok'], 'nothing started after the failure');
});

t.test('a failing source or size estimate is thrown', async (t) => {
  async function* broken(): AsyncGenerator<Job> {
    yield { name: 'a', size: 1 };
    throw new Error('listing failed');
  }
  const c = controlled();
  const run = t.rejects(runLargestFirst(broken(), { slots: fixedSlots(4), size: (j) => j.size }, c.task), /listing failed/);
  await c.settle();
  await c.release('a');
  await run;
  await t.rejects(
    runLargestFirst(jobs(['a', 1]), { slots: fixedSlots(1), size: () => Promise.reject(new Error('store closed')) }, async () => undefined),
    /store closed/,
  );
});

t.test('an abort stops new starts and is thrown', async (t) => {
  const c = controlled();
  const controller = new AbortController();
  const run = t.rejects(runLargestFirst(jobs(['a', 2], ['b', 1]), { slots: fixedSlots(1), size: (j) => j.size, signal: controller.signal }, c.task), /stop/);
  await c.settle();
  controller.abort(new Error('stop'));
  await c.release('a');
  await run;
  t.same(c.started, ['a']);
});
