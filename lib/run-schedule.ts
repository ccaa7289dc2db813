// Which channel starts next, and when: the channels of a run are started largest first (the most history left,
// lib/discord/history-size.ts), as many at once as the run's slots allow (a pinned --channel-concurrency, or the
// limit lib/run-slots.ts derives from the measured request rate). Largest first, so a run does not end with one
// large channel walking alone at its per-channel rate while every other finished long ago.

// How many channels may run now; `onChange` is told when that may have grown.
export interface ChannelSlots {
  allowed(running: number): number;
  onChange(listener: () => void): void;
}

// A fixed number of slots (--channel-concurrency N).
export function fixedSlots(count: number): ChannelSlots {
  return { allowed: () => count, onChange: () => undefined };
}

export interface ScheduleOptions<T> {
  slots: ChannelSlots;
  size: (item: T) => Promise<number | undefined> | number | undefined; // estimated pages (undefined: unknown, last)
  signal?: AbortSignal | undefined;
}

interface Waiting<T> {
  item: T;
  size: number;
  order: number;
}

// Runs `task` for every item, the largest waiting item first whenever a slot is free. Items the source has ready
// at once (a server's channel list) are all sized before the first is chosen. The first failure (of a task, of
// sizing, or of the source) stops new starts and is thrown once the running tasks have settled; the source is
// then left to the caller to stop (it is not waited for).
export async function runLargestFirst<T>(items: AsyncIterable<T> | Iterable<T>, options: ScheduleOptions<T>, task: (item: T) => Promise<void>): Promise<void> {
  const { slots, signal } = options;
  const waiting: Array<Waiting<T>> = []; // a binary max-heap by size, then arrival
  const sizing = new Set<Promise<void>>();
  const running = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  let sourceDone = false;
  let arrivals = 0;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const resume = wake;
    wake = undefined;
    resume?.();
  };
  const changed = (): Promise<void> => new Promise<void>((resolve) => (wake = resolve));
  const fail = (error: unknown): void => {
    failure ??= { error };
    notify();
  };
  slots.onChange(notify);
  const onAbort = (): void => notify();
  signal?.addEventListener('abort', onAbort, { once: true });

  const pump = (async () => {
    try {
      for await (const item of items) {
        if (failure || signal?.aborted) break;
        const order = arrivals++;
        const sized = Promise.resolve()
          .then(() => options.size(item))
          .then(
            (size) => push(waiting, { item, size: size ?? -1, order }),
            (error: unknown) => fail(error),
          );
        sizing.add(sized);
        void sized.finally(() => {
          sizing.delete(sized);
          notify();
        });
      }
    } catch (error) {
      fail(error);
    } finally {
      sourceDone = true;
      notify();
    }
  })();

  try {
    for (;;) {
      if (failure || signal?.aborted) break;
      // Everything the source has ready now arrives and is sized before one is chosen.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (sizing.size > 0) {
        await Promise.all(sizing);
        continue;
      }
      if (failure || signal?.aborted) break;
      if (waiting.length === 0) {
        if (sourceDone) break;
        await changed();
        continue;
      }
      if (running.size >= Math.max(1, slots.allowed(running.size))) {
        await changed();
        continue;
      }
      const next = pop(waiting)!;
      const started: Promise<void> = task(next.item).then(
        () => undefined,
        (error: unknown) => fail(error),
      );
      const tracked = started.finally(() => {
        running.delete(tracked);
        notify();
      });
      running.add(tracked);
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  await Promise.all(running);
  if (!failure && !signal?.aborted) await pump;
  if (failure) throw failure.error;
  signal?.throwIfAborted();
}

function before<T>(a: Waiting<T>, b: Waiting<T>): boolean {
  return a.size > b.size || (a.size === b.size && a.order < b.order);
}

function push<T>(heap: Array<Waiting<T>>, entry: Waiting<T>): void {
  heap.push(entry);
  let at = heap.length - 1;
  while (at > 0) {
    const parent = (at - 1) >> 1;
    if (!before(heap[at]!, heap[parent]!)) break;
    [heap[at], heap[parent]] = [heap[parent]!, heap[at]!];
    at = parent;
  }
}

function pop<T>(heap: Array<Waiting<T>>): Waiting<T> | undefined {
  const top = heap[0];
  const last = heap.pop();
  if (heap.length === 0 || last === undefined) return top;
  heap[0] = last;
  let at = 0;
  for (;;) {
    const left = 2 * at + 1;
    const right = left + 1;
    let best = at;
    if (left < heap.length && before(heap[left]!, heap[best]!)) best = left;
    if (right < heap.length && before(heap[right]!, heap[best]!)) best = right;
    if (best === at) return top;
    [heap[at], heap[best]] = [heap[best]!, heap[at]!];
    at = best;
  }
}
