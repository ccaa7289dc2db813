// Concurrent map with ordered output: up to `window` units are in flight (each may wait for a shared pool
// inside `work`), results leave in input order so the checkpoint stage can advance a simple watermark.

export interface OrderedParallelOptions {
  // Maximum units between input and output (bounds memory and the redo after a crash); a function is asked again
  // before each unit is taken (a pool whose size changes).
  window: number | (() => number);
  signal?: AbortSignal | undefined;
}

// Applies `work` to every unit, concurrently, yielding results in the order the units arrived. A finished result
// leaves as soon as every one before it has, even while the source has nothing more to give (a live source:
// lib/follow.ts): the wait for the next unit is raced with the oldest unit's work.
export async function* orderedParallel<In, Out>(
  source: AsyncIterable<In>,
  work: (unit: In) => Promise<Out>,
  options: OrderedParallelOptions,
): AsyncGenerator<Out> {
  const queue: Array<{ result: Promise<Out>; settled: boolean }> = [];
  const iterator = source[Symbol.asyncIterator]();
  let exhausted = false;
  let next: Promise<IteratorResult<In>> | undefined; // asked of the source, not yet arrived
  const size = options.window;
  const window = typeof size === 'number' ? () => size : size;
  try {
    for (;;) {
      const head = queue[0];
      if (head !== undefined && (head.settled || exhausted || queue.length >= window())) {
        queue.shift();
        yield await head.result;
        continue;
      }
      if (exhausted) return;
      options.signal?.throwIfAborted();
      next ??= iterator.next();
      // With work in flight, whichever comes first: the next unit, or the oldest result (then yielded above).
      const step = head === undefined ? await next : await Promise.race([next, head.result.then(HEAD, HEAD)]);
      if (step === HEAD_SETTLED) continue;
      next = undefined;
      if (step.done) {
        exhausted = true;
        continue;
      }
      const entry = { result: work(step.value), settled: false };
      const settle = (): void => {
        entry.settled = true;
      };
      entry.result.then(settle, settle); // observed when it reaches the head; never an unhandled rejection
      queue.push(entry);
    }
  } finally {
    // Let in-flight work finish (or abort) so no write is cut off half-way, then close the source.
    await Promise.allSettled(queue.map((entry) => entry.result));
    if (!exhausted) {
      await next?.catch(() => undefined);
      await iterator.return?.();
    }
  }
}

const HEAD_SETTLED: unique symbol = Symbol('head settled');
const HEAD = (): typeof HEAD_SETTLED => HEAD_SETTLED;
