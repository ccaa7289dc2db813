// emitEvents: every event goes to emit in order; a paused output (emit returns a promise) holds the next event
// until it resolves, unless the run is stopped; files that need attention get a warning line on the log.

import t from 'tap';
import { getEventListeners } from 'node:events';
import type { DpsEvent } from '../../lib/output/events.js';
import { emitEvents } from '../../lib/stages/events.js';

const context = { guild_id: 'g', channel_id: 'c' };
const saved = (n: number): DpsEvent => ({
  event: 'saved',
  ...context,
  message_id: `m${n}`,
  attachment_id: `a${n}`,
  filename: `f${n}.png`,
  path: `/out/f${n}.png`,
  bytes: 1,
  sha256: 'x',
  content_type: null,
  timestamp: '2024-01-01T00:00:00.000Z',
  source: 'attachment',
});

async function* from(events: DpsEvent[], pulled: DpsEvent[] = []): AsyncGenerator<DpsEvent> {
  for (const event of events) {
    pulled.push(event);
    yield event;
  }
}

// A promise the test resolves, standing in for the output's drain.
function drain(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

t.test('emits every event in order', async (t) => {
  const emitted: DpsEvent[] = [];
  await emitEvents(from([saved(1), saved(2), saved(3)]), { emit: (event) => void emitted.push(event) });
  t.same(
    emitted.map((e) => (e.event === 'saved' ? e.attachment_id : '')),
    ['a1', 'a2', 'a3'],
  );
});

t.test('a paused output holds the next event until it drains', async (t) => {
  const pulled: DpsEvent[] = [];
  const paused = drain();
  const emitted: DpsEvent[] = [];
  const done = emitEvents(from([saved(1), saved(2)], pulled), {
    emit: (event) => {
      emitted.push(event);
      return emitted.length === 1 ? paused.promise : undefined;
    },
  });
  // Let every microtask run: the pass must still be waiting on the first event's drain.
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(pulled.length, 1, 'the second event is not taken while the output is full');
  paused.resolve();
  await done;
  t.equal(emitted.length, 2, 'taken once the output drained');
});

t.test('aborted mid-flight: stops waiting for a paused output', async (t) => {
  const controller = new AbortController();
  const never = drain(); // never resolved
  const emitted: DpsEvent[] = [];
  const done = emitEvents(from([saved(1), saved(2)]), {
    signal: controller.signal,
    emit: (event) => {
      emitted.push(event);
      return never.promise;
    },
  });
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(emitted.length, 1);
  controller.abort();
  await done;
  t.equal(emitted.length, 2, 'the rest is emitted without waiting');
});

t.test('aborted before start: does not wait for the output at all', async (t) => {
  const controller = new AbortController();
  controller.abort();
  const never = drain();
  const emitted: DpsEvent[] = [];
  await emitEvents(from([saved(1), saved(2)]), {
    signal: controller.signal,
    emit: (event) => {
      emitted.push(event);
      return never.promise;
    },
  });
  t.equal(emitted.length, 2);
});

t.test('the abort listener is removed after each wait', async (t) => {
  const controller = new AbortController();
  const drains = [drain(), drain()];
  let n = 0;
  const done = emitEvents(from([saved(1), saved(2)]), { signal: controller.signal, emit: () => drains[n++]!.promise });
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(getEventListeners(controller.signal, 'abort').length, 1, 'one listener while waiting');
  drains[0]!.resolve();
  drains[1]!.resolve();
  await done;
  t.equal(getEventListeners(controller.signal, 'abort').length, 0, 'none left');
});

t.test('files that need attention get a warning line', async (t) => {
  const lines: string[] = [];
  const events: DpsEvent[] = [
    saved(1),
    { event: 'skipped', reason: 'too_large', ...context, message_id: 'm2', filename: 'big.mov', detail: '30 MB > --max-size 10 MB' },
    { event: 'skipped', reason: 'type', ...context, message_id: 'm3', filename: 'a.txt' },
    { event: 'failed', reason: 'http_404', ...context, message_id: 'm4', filename: 'gone.png' },
  ];
  await emitEvents(from(events), { log: (line) => lines.push(line) });
  t.same(lines, [
    'warning: failed gone.png (message m4): http_404',
    `warning: channel ${context.channel_id}: skipped 1 file larger than --max-size: big.mov (0 B)`,
  ]);
});

t.test('--max-size skips are rolled up: one line per channel with the count, when its channel_done passes', async (t) => {
  const lines: string[] = [];
  const big = (n: number, size: number): DpsEvent => ({
    event: 'skipped',
    reason: 'too_large',
    ...context,
    message_id: `m${n}`,
    filename: `big${n}.mov`,
    size,
  });
  const emitted: DpsEvent[] = [];
  const done: DpsEvent = {
    event: 'channel_done',
    ...context,
    channel_name: 'art',
    cursor: null,
    complete: true,
    messages: 3,
    saved: 0,
    duplicates: 0,
    skipped: 3,
    failed: 0,
    bytes: 0,
  };
  await emitEvents(from([big(1, 30_000_000), big(2, 80_100_000), big(3, 1_000_000), done]), {
    emit: (event) => void emitted.push(event),
    log: (line) => lines.push(line),
  });
  t.same(lines, ['warning: #art: skipped 3 files larger than --max-size (111.1 MB in all; the largest: big2.mov, 80.1 MB)'], 'one line, not one per file');
  t.equal(emitted.filter((e) => e.event === 'skipped').length, 3, 'every skipped event still emitted');
});

t.test('the rollup is printed when the pass ends without a channel_done (a retry pass, a stopped run)', async (t) => {
  const lines: string[] = [];
  async function* failing(): AsyncGenerator<DpsEvent> {
    yield { event: 'skipped', reason: 'too_large', ...context, message_id: 'm1', filename: 'a.mov', size: 2_000_000 };
    throw new Error('stopped');
  }
  await t.rejects(emitEvents(failing(), { log: (line) => lines.push(line) }));
  t.same(lines, [`warning: channel ${context.channel_id}: skipped 1 file larger than --max-size: a.mov (2.0 MB)`]);
});
