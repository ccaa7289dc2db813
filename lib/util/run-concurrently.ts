// Runs a task for every element with at most `limit` running at once; the first failure (of a task, or of the
// source of elements) stops new starts and is rethrown once the running tasks have settled.

export async function runConcurrently<T>(
  items: Iterable<T> | AsyncIterable<T>,
  limit: number,
  signal: AbortSignal | undefined,
  task: (item: T) => Promise<void>,
): Promise<void> {
  const running = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  try {
    for await (const item of items) {
      if (failure || signal?.aborted) break;
      const promise: Promise<void> = task(item).then(
        () => undefined,
        (error: unknown) => {
          failure ??= { error };
        },
      );
      const tracked = promise.finally(() => running.delete(tracked));
      running.add(tracked);
      if (running.size >= limit) await Promise.race(running);
    }
  } catch (error) {
    failure ??= { error };
  }
  await Promise.all(running);
  if (failure) throw failure.error;
  signal?.throwIfAborted();
}
