// The run's global limit: at most N starts in any second (a sliding window, so no double burst across a window
// boundary), nothing while a global 429 lasts, and an abort ends a wait at once. Bounds only (never "at most
// this long"), so a slow machine cannot fail them.
import t from 'tap';
import { GlobalLimit } from '../../lib/discord/global-limit.js';

t.test('no more than perSecond starts in any second', async (t) => {
  const limit = new GlobalLimit(4);
  const starts: number[] = [];
  await Promise.all(Array.from({ length: 10 }, async () => {
    await limit.wait();
    starts.push(Date.now());
  }));
  starts.sort((a, b) => a - b);
  t.equal(starts.length, 10);
  for (let i = 4; i < starts.length; i++) t.ok(starts[i]! - starts[i - 4]! >= 1000, `start ${i} is a second after start ${i - 4} (${starts[i]! - starts[i - 4]!} ms)`);
});

t.test('a high rate keeps its pace with a bounded log', async (t) => {
  const limit = new GlobalLimit(100_000);
  const started = Date.now();
  for (let i = 0; i < 3_000; i++) await limit.wait();
  t.ok(Date.now() - started >= 20, `3,000 starts at 100,000/s took at least 20 ms (${Date.now() - started} ms)`);
});

t.test('a global 429 holds every start until it ends', async (t) => {
  const limit = new GlobalLimit(50);
  await limit.wait();
  const until = Date.now() + 150;
  limit.block(until);
  limit.block(until - 100); // an earlier end never shortens the block
  await limit.wait();
  t.ok(Date.now() >= until, 'the next start waited for the block');
});

t.test('an abort ends a wait', async (t) => {
  const limit = new GlobalLimit(1);
  await limit.wait();
  const controller = new AbortController();
  const waiting = limit.wait(controller.signal);
  setTimeout(() => controller.abort(new Error('stop')), 20);
  await t.rejects(waiting, { message: 'stop' });
  const aborted = new AbortController();
  aborted.abort(new Error('before'));
  await t.rejects(limit.wait(aborted.signal), { message: 'before' }, 'an aborted signal never waits');
});
