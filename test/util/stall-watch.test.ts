// The stall watch (lib/util/stall-watch.ts): nothing is cancelled while the run goes on; once it is stopping, a
// transfer that waits for its headers or its next bytes for the grace is cancelled, while one that receives,
// or whose consumer is busy (the disk's pace), or whose body is in, is not; the hard signal cancels every one;
// no listener is left behind.
import t from 'tap';
import { getEventListeners, once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { StallWatch } from '../../lib/util/stall-watch.js';

const GRACE = 300;

// Resolves once the signal is aborted (at once when it already is).
const aborted = (signal: AbortSignal): Promise<unknown> => (signal.aborted ? Promise.resolve() : once(signal, 'abort'));

// A body that yields `count` chunks `everyMs` apart, then (unless `end`) never yields again.
async function* body(count: number, everyMs: number, end = true, size = 8): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < count; i++) {
    await delay(everyMs);
    yield new Uint8Array(size);
  }
  if (!end) await new Promise(() => undefined);
}

t.test('nothing is cancelled before the stop; after it, only what has stalled', async (t) => {
  const stop = new AbortController();
  const cancel = new AbortController();
  const watch = new StallWatch({ stop: stop.signal, cancel: cancel.signal, graceMs: GRACE });
  const waitingForHeaders = watch.begin();
  const stalledBody = watch.begin();

  // Before the stop: a transfer idle for longer than the grace is left alone.
  const idle = stalledBody.track(body(1, 1, false));
  const idleReader = (async () => {
    for await (const _ of idle) void _;
  })().catch((error: unknown) => error);
  await delay(GRACE * 1.5);
  t.notOk(stalledBody.signal.aborted, 'no cancel while the run goes on');

  const finished = watch.begin();
  for await (const _ of finished.track(body(2, 1))) void _;
  const progressing = watch.begin();
  const readProgressing = (async () => {
    for await (const _ of progressing.track(body(Math.ceil((GRACE * 3) / 20), 20, true, 16 * 1024))) void _;
  })();
  // A drip (8 bytes every 20 ms) is never silent, yet as good as stalled: cancelled once the run is stopping.
  const dripping = watch.begin();
  const readDripping = (async () => {
    for await (const _ of dripping.track(body(100, 20))) void _;
  })().catch((error: unknown) => error);
  const busyConsumer = watch.begin();
  const busy = busyConsumer.track(body(3, 1))[Symbol.asyncIterator]();
  await busy.next(); // then the consumer "writes" for longer than the grace without asking for more
  stop.abort();

  await Promise.all([aborted(waitingForHeaders.signal), aborted(stalledBody.signal)]);
  t.pass('the transfer waiting for headers and the stalled body are cancelled');
  await aborted(dripping.signal);
  t.pass('so is a trickle');
  void readDripping;
  await readProgressing;
  t.notOk(progressing.signal.aborted, 'a transfer receiving all along is not cancelled');
  t.notOk(busyConsumer.signal.aborted, 'nor one whose consumer was busy');
  t.notOk(finished.signal.aborted, 'nor one whose body is in');
  void idleReader;
  for (const transfer of [waitingForHeaders, stalledBody, progressing, busyConsumer, finished, dripping]) transfer.end();
  t.equal(getEventListeners(cancel.signal, 'abort').length, 0, 'no listener left on the hard signal');
  watch.close();
  t.equal(getEventListeners(stop.signal, 'abort').length, 0, 'nor on the stop signal');
});

t.test('already stopping: a new transfer is watched from its start; the hard signal cancels everything', async (t) => {
  const stop = new AbortController();
  stop.abort();
  const cancel = new AbortController();
  const watch = new StallWatch({ stop: stop.signal, cancel: cancel.signal, graceMs: GRACE });
  const late = watch.begin();
  await aborted(late.signal);
  t.pass('a transfer begun after the stop that receives nothing is cancelled');
  late.end();
  const a = watch.begin();
  const b = watch.begin();
  cancel.abort(new Error('hard'));
  t.ok(a.signal.aborted && b.signal.aborted, 'the hard signal cancels every transfer at once');
  t.equal((a.signal.reason as Error).message, 'hard', 'with its reason');
  a.end();
  b.end();
  watch.close();
});
