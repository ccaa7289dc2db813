// A queue read as an async iterable by one consumer: push() adds (and resolves once the queue is below its limit,
// so a producer that awaits it is held back by a slow consumer), close() ends the iteration once what is queued
// has been read.

export class AsyncQueue<T> implements AsyncIterable<T> {
  readonly #items: T[] = [];
  readonly #limit: number;
  #closed = false;
  #reader: (() => void) | undefined; // the consumer, waiting for an item
  #room: Array<() => void> = []; // producers waiting for the queue to drain below its limit

  constructor(limit = Number.POSITIVE_INFINITY) {
    this.#limit = limit;
  }

  get size(): number {
    return this.#items.length;
  }

  // Adds an item (ignored once closed); resolves when the queue holds fewer than its limit.
  push(item: T): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#items.push(item);
    this.#wake();
    if (this.#items.length < this.#limit) return Promise.resolve();
    return new Promise((resolve) => this.#room.push(resolve));
  }

  // No more items: the iteration ends after the queued ones.
  close(): void {
    this.#closed = true;
    for (const resolve of this.#room.splice(0)) resolve();
    this.#wake();
  }

  #wake(): void {
    const reader = this.#reader;
    this.#reader = undefined;
    reader?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    for (;;) {
      const item = this.#items.shift();
      if (item !== undefined) {
        if (this.#items.length < this.#limit) for (const resolve of this.#room.splice(0)) resolve();
        yield item;
        continue;
      }
      if (this.#closed) return;
      await new Promise<void>((resolve) => {
        this.#reader = resolve;
      });
    }
  }
}
