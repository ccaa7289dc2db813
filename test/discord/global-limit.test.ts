// The run's global limit: at most N starts in any second (a sliding window, so no double burst across a window
// boundary), nothing while a global 429 lasts, and an abort ends a wait at once. On a clock the test moves.
import t from 'tap';
import { ManualClock } from '../helpers/manual-clock.js';
import { GlobalLimit } from '../../lib/discord/global-limit.js';

t.test('no more than perSecond starts in any second', async (t) => {
  const clock = new ManualClock();
  const limit = new GlobalLimit(4, undefined, clock);
  const starts: number[] = [];
  const all = Promise.all(
    Array.from({ length: 10 }, async () => {
      await limit.wait();
      starts.push(clock.now());
    }),
  );
  for (let i = 0; i < 40 && starts.length < 10; i++) await clock.advance(100);
  await all;
  starts.sort((a, b) => a - b);
  t.equal(starts.length, 10);
  t.equal(starts[3], starts[0], 'the first four at once');
  for (let i = 4; i < starts.length; i++)
    t.ok(starts[i]! - starts[i - 4]! >= 1000, `start ${i} is a second after start ${i - 4} (${starts[i]! - starts[i - 4]!} ms)`);
});

t.test('a high rate keeps its pace with a bounded log', async (t) => {
  const clock = new ManualClock();
  const limit = new GlobalLimit(100_000, undefined, clock);
  const started = clock.now();
  let done = 0;
  const all = (async () => {
    for (let i = 0; i < 3_000; i++, done++) await limit.wait();
  })();
  while (done < 3_000) await clock.advance(1);
  await all;
  t.ok(clock.now() - started >= 20, `3,000 starts at 100,000/s took at least 20 ms (${clock.now() - started} ms)`);
});

t.test('a global 429 holds every start until it ends; unblocked() waits for it without counting a start', async (t) => {
  const clock = new ManualClock();
  const limit = new GlobalLimit(1, undefined, clock);
  const until = clock.now() + 150;
  limit.block(until);
  limit.block(until - 100); // an earlier end never shortens the block
  let free = false;
  const unblocked = limit.unblocked().then(() => (free = true));
  await clock.advance(149);
  t.notOk(free, 'still blocked');
  await clock.advance(1);
  await unblocked;
  t.equal(clock.now(), until);
  await limit.wait();
  t.equal(clock.now(), until, 'the start was not used up by unblocked()');
});

t.test('an abort ends a wait', async (t) => {
  const clock = new ManualClock();
  const limit = new GlobalLimit(1, undefined, clock);
  await limit.wait();
  const controller = new AbortController();
  const waiting = limit.wait(controller.signal);
  await clock.advance(10);
  controller.abort(new Error('stop'));
  await t.rejects(waiting, { message: 'stop' });
  const aborted = new AbortController();
  aborted.abort(new Error('before'));
  await t.rejects(limit.wait(aborted.signal), { message: 'before' }, 'an aborted signal never waits');
  await t.rejects(limit.unblocked(aborted.signal), { message: 'before' });
});

t.test('waiting requests go by priority, ties in arrival order; none waits more than 2 s behind more urgent ones', async (t) => {
  const clock = new ManualClock();
  const limit = new GlobalLimit(4, undefined, clock);
  for (let i = 0; i < 4; i++) await limit.wait(); // the window is full for a second
  const order: string[] = [];
  const start = (name: string, priority: number): Promise<void> => limit.wait(undefined, priority).then(() => void order.push(name));
  const all = [start('low', 0), start('high-a', 10), start('mid', 5), start('high-b', 10)];
  for (let i = 0; i < 50 && order.length < 4; i++) await clock.advance(100);
  await Promise.all(all);
  t.same(order, ['high-a', 'high-b', 'mid', 'low']);
  // A stream of urgent requests, faster than the limit: the patient one still goes once it has waited 2 s.
  const slow = new GlobalLimit(1, undefined, clock);
  await slow.wait();
  const served: string[] = [];
  const patient = slow.wait(undefined, 0).then(() => void served.push('patient'));
  let urgent = 0;
  const stream: Promise<void>[] = [];
  for (let i = 0; i < 60 && !served.includes('patient'); i++) {
    stream.push(slow.wait(undefined, 100).then(() => void served.push(`urgent-${urgent++}`)));
    await clock.advance(100);
  }
  await patient;
  t.ok(served.indexOf('patient') >= 1 && served.indexOf('patient') <= 2, `served after one or two urgent ones (${served.indexOf('patient')})`);
  for (let i = 0; i < 200 && served.length < stream.length + 1; i++) await clock.advance(500);
  await Promise.all(stream);
});
