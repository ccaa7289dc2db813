// Reads an async iterable to its end in the background while a slower consumer takes its items: the run archives
// the first channels while the rest of the server (its threads) is still being listed, yet the listing finishes
// as soon as the API allows rather than when channel slots free up. Only for finite sources of small items (the
// channels of one server): what the consumer has not taken yet is buffered.

// The source's items as they come; its failure is thrown after the items read before it. Stopping early (break)
// stops reading at the source's next item; `onStop` is called then, to cancel what the source has in flight.
export function readAhead<T>(source: Iterable<T> | AsyncIterable<T>, onStop?: () => void): AsyncIterable<T> {
  const buffered: T[] = [];
  let ended = false;
  let failure: { error: unknown } | undefined;
  let stopped = false;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const resume = wake;
    wake = undefined;
    resume?.();
  };
  void (async () => {
    try {
      for await (const item of source) {
        if (stopped) break;
        buffered.push(item);
        notify();
      }
    } catch (error) {
      failure = { error };
    } finally {
      ended = true;
      notify();
    }
  })();
  return {
    async *[Symbol.asyncIterator]() {
      try {
        for (;;) {
          if (buffered.length > 0) {
            yield buffered.shift()!;
            continue;
          }
          if (ended) break;
          await new Promise<void>((resolve) => (wake = resolve));
        }
        if (failure) throw failure.error;
      } finally {
        if (!ended) {
          stopped = true;
          onStop?.();
        }
      }
    },
  };
}
