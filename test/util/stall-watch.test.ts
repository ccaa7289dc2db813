// The stall watch (lib/util/stall-watch.ts): nothing is cancelled while the run goes on; once it is stopping, a
// transfer that waits for its headers or its next bytes for the grace is cancelled, and so is a trickle, while one
// that receives, or whose consumer is busy (the disk's pace), or whose body is in, is not; the hard signal cancels
// every one; no listener is left behind. Time is a manual clock the test moves: bodies get their chunks when the
// test feeds them.
import t from 'tap';
import { getEventListeners } from 'node:events';
import { ManualClock, settle } from '../helpers/manual-clock.js';
import { StallWatch } from '../../lib/util/stall-watch.js';

const GRACE = 300;

// A body whose chunks arrive when the test feeds them.
function feed(): { body: AsyncIterable<Uint8Array>; push: (size: number) => void; end: () => void } {
  const chunks: Array<Uint8Array | undefined> = [];
  let wake: (() => void) | undefined;
  const body = (async function* () {
    for (;;) {
      while (chunks.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      const chunk = chunks.shift();
      if (chunk === undefined) return;
      yield chunk;
    }
  })();
  const add = (chunk: Uint8Array | undefined): void => {
    chunks.push(chunk);
    wake?.();
  };
  return { body, push: (size) => add(new Uint8Array(size)), end: () => add(undefined) };
}

// Reads a body to its end (or forever), as a download's consumer does.
function read(body: AsyncIterable<Uint8Array>): Promise<unknown> {
  return (async () => {
    for await (const _ of body) void _;
  })().catch((error: unknown) => error);
}

t.test('nothing is cancelled before the stop; after it, only what has stalled', async (t) => {
  const clock = new ManualClock();
  const stop = new AbortController();
  const cancel = new AbortController();
  const watch = new StallWatch({ stop: stop.signal, cancel: cancel.signal, graceMs: GRACE, clock });
  const waitingForHeaders = watch.begin();
  const stalledBody = watch.begin();

  // Before the stop: a transfer idle for longer than the grace is left alone.
  const idle = feed();
  void read(stalledBody.track(idle.body));
  idle.push(8);
  await clock.advance(GRACE * 1.5);
  t.notOk(stalledBody.signal.aborted, 'no cancel while the run goes on');

  const finished = watch.begin();
  const whole = feed();
  const readFinished = read(finished.track(whole.body));
  whole.push(8);
  whole.push(8);
  whole.end();
  await readFinished;
  // Receiving 16 KiB every 20 ms, and a drip (8 bytes every 20 ms): never silent, yet as good as stalled.
  const progressing = watch.begin();
  const steady = feed();
  void read(progressing.track(steady.body));
  const dripping = watch.begin();
  const drip = feed();
  void read(dripping.track(drip.body));
  const busyConsumer = watch.begin();
  const busyBody = feed();
  const busy = busyConsumer.track(busyBody.body)[Symbol.asyncIterator]();
  busyBody.push(8);
  await busy.next(); // then the consumer "writes" for longer than the grace without asking for more
  stop.abort();

  for (let elapsed = 0; elapsed < GRACE * 3; elapsed += 20) {
    steady.push(16 * 1024);
    if (!dripping.signal.aborted) drip.push(8);
    await clock.advance(20);
  }
  t.ok(waitingForHeaders.signal.aborted, 'the transfer waiting for its headers is cancelled');
  t.ok(stalledBody.signal.aborted, 'so is the stalled body');
  t.ok(dripping.signal.aborted, 'so is a trickle');
  t.notOk(progressing.signal.aborted, 'a transfer receiving all along is not cancelled');
  t.notOk(busyConsumer.signal.aborted, 'nor one whose consumer was busy');
  t.notOk(finished.signal.aborted, 'nor one whose body is in');
  steady.end();
  for (const transfer of [waitingForHeaders, stalledBody, progressing, busyConsumer, finished, dripping]) transfer.end();
  await settle();
  t.equal(clock.sleeping, 0, 'no grace period is still timed');
  t.equal(getEventListeners(cancel.signal, 'abort').length, 0, 'no listener left on the hard signal');
  watch.close();
  t.equal(getEventListeners(stop.signal, 'abort').length, 0, 'nor on the stop signal');
});

t.test('already stopping: a new transfer is watched from its start; the hard signal cancels everything', async (t) => {
  const clock = new ManualClock();
  const stop = new AbortController();
  stop.abort();
  const cancel = new AbortController();
  const watch = new StallWatch({ stop: stop.signal, cancel: cancel.signal, graceMs: GRACE, clock });
  const late = watch.begin();
  await clock.advance(GRACE - 1);
  t.notOk(late.signal.aborted, 'not before the grace');
  await clock.advance(1);
  t.ok(late.signal.aborted, 'a transfer begun after the stop that receives nothing is cancelled after the grace');
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
