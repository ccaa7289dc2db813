// Concurrent map with ordered output: up to `window` units are in flight (each may wait for a shared pool
// inside `work`), results leave in input order so the checkpoint stage can advance a simple watermark.

export interface OrderedParallelOptions {
  // Maximum units between input and output (bounds memory and the redo after a crash); a function is asked again
  // before each unit is taken (a pool whose size changes).
  window: number | (() => number);
  signal?: AbortSignal | undefined;
}

// Applies `work` to every unit, concurrently, yielding results in the order the units arrived.
export async function* orderedParallel<In, Out>(
  source: AsyncIterable<In>,
  work: (unit: In) => Promise<Out>,
  options: OrderedParallelOptions,
): AsyncGenerator<Out> {
  const queue: Array<Promise<Out>> = [];
  const iterator = source[Symbol.asyncIterator]();
  let exhausted = false;
  const size = options.window;
  const window = typeof size === 'number' ? () => size : size;
  try {
    for (;;) {
      while (!exhausted && queue.length < window()) {
        options.signal?.throwIfAborted();
        const next = await iterator.next();
        if (next.done) {
          exhausted = true;
          break;
        }
        const pending = work(next.value);
        pending.catch(() => undefined); // observed when it reaches the head; never an unhandled rejection
        queue.push(pending);
      }
      const head = queue.shift();
      if (!head) return;
      yield await head;
    }
  } finally {
    // Let in-flight work finish (or abort) so no write is cut off half-way, then close the source.
    await Promise.allSettled(queue);
    if (!exhausted) await iterator.return?.();
  }
}
