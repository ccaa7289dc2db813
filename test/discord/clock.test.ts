// lib/discord/clock.ts: the system clock the rate-limit code uses in a run: its time is the wall clock's, its
// sleeps end, and an abort (before or during a sleep) rejects with the signal's own reason.
import t from 'tap';
import { systemClock } from '../../lib/discord/clock.js';

t.test('now() is the wall clock', async (t) => {
  const before = Date.now();
  const now = systemClock.now();
  t.ok(now >= before && now <= Date.now());
});

t.test('a sleep ends; without a signal too', async (t) => {
  const start = systemClock.now();
  await systemClock.sleep(5);
  t.ok(systemClock.now() - start >= 4, 'not before its time');
  await t.resolves(systemClock.sleep(0, new AbortController().signal));
});

t.test('aborted before start: rejects at once with the reason', async (t) => {
  const reason = new Error('stop now');
  await t.rejects(systemClock.sleep(60_000, AbortSignal.abort(reason)), reason);
});

t.test('aborted mid-sleep: rejects with the reason, not an AbortError of its own', async (t) => {
  const controller = new AbortController();
  const reason = { why: 'the reader closed stdout' };
  const sleeping = systemClock.sleep(60_000, controller.signal);
  setImmediate(() => controller.abort(reason));
  const error = await sleeping.then(
    () => undefined,
    (e: unknown) => e,
  );
  t.equal(error, reason, 'the very reason the signal was aborted with');
});
