// Object storage (issue 26): the run's memory for multipart parts. Every upload fills its parts in buffers of
// `partSize` taken from one pool, at most `capacity` of them alive at once across all uploads, whatever the
// number of downloads running; an upload that finds none free waits (its download waits with it) until another
// upload's part has been sent. A buffer sent successfully is used again (no 5 MiB allocation per part, no garbage
// waiting for the collector); one whose request failed may still be referenced by its socket, so it is forgotten
// instead (`discard`) and makes room for a new one. When every buffer is back, the free ones are let go: an idle
// run holds no part memory.

// A waiting acquire: served in arrival order.
interface Waiter {
  resolve: (buffer: Buffer) => void;
  reject: (reason: unknown) => void;
  signal?: AbortSignal | undefined;
  onAbort?: (() => void) | undefined;
}

// The default number of part buffers a run's uploads share: with 8 big files at once (dps's downloads start at
// 8), one filling for each and 4 parts in flight. 16 measured 15-20 MB more peak RSS, 8 stalled uploads;
// bench/limits.md (S3 part memory) has the figures.
export const DEFAULT_PART_BUFFERS = 12;

export class PartPool {
  readonly #free: Buffer[] = [];
  readonly #waiting: Waiter[] = [];
  #alive = 0; // buffers handed out or free, not discarded
  #peak = 0;

  constructor(
    readonly partSize: number,
    readonly capacity: number = DEFAULT_PART_BUFFERS,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`a part pool needs at least one buffer, not ${capacity}`);
  }

  // Buffers alive now (handed out or free), and the most there ever were: the memory bound, for tests.
  get alive(): number {
    return this.#alive;
  }

  get peak(): number {
    return this.#peak;
  }

  // A buffer of partSize bytes (contents undefined): a free one, a new one while under capacity, or the next one
  // given back. The signal cancels the wait.
  acquire(signal?: AbortSignal): Promise<Buffer> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const free = this.#free.pop();
    if (free !== undefined) return Promise.resolve(free);
    if (this.#alive < this.capacity) return Promise.resolve(this.#allocate());
    return new Promise<Buffer>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, signal };
      if (signal !== undefined) {
        waiter.onAbort = () => {
          this.#waiting.splice(this.#waiting.indexOf(waiter), 1);
          reject(signal.reason);
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.#waiting.push(waiter);
    });
  }

  // A buffer whose part was sent (no request holds it any more): to the next waiter, or kept for the next part.
  release(buffer: Buffer): void {
    const waiter = this.#next();
    if (waiter !== undefined) {
      waiter.resolve(buffer);
      return;
    }
    this.#free.push(buffer);
    if (this.#free.length === this.#alive) {
      this.#alive = 0; // every buffer is back: none is kept while no upload runs
      this.#free.length = 0;
    }
  }

  // A buffer that may still be in use (its request failed or was cancelled): never handed out again; a waiter
  // gets a new one in its place.
  discard(): void {
    this.#alive--;
    const waiter = this.#next();
    if (waiter !== undefined) waiter.resolve(this.#allocate());
  }

  #allocate(): Buffer {
    this.#alive++;
    this.#peak = Math.max(this.#peak, this.#alive);
    return Buffer.allocUnsafeSlow(this.partSize);
  }

  #next(): Waiter | undefined {
    const waiter = this.#waiting.shift();
    if (waiter?.onAbort !== undefined) waiter.signal?.removeEventListener('abort', waiter.onAbort);
    return waiter;
  }
}
