// A counting semaphore with a limit that can change: the slots of the run's download pool (stages/download-pool.ts
// moves the limit; a fixed --concurrency never does).

export class Semaphore {
  private active = 0;
  private limit: number;
  private readonly waiters: Array<() => void> = [];

  constructor(size: number) {
    checkSize(size);
    this.limit = size;
  }

  // The limit now: how many slots may be in use at once.
  get size(): number {
    return this.limit;
  }

  // Moves the limit. A larger one hands the new slots to waiters at once; a smaller one takes no slot back:
  // releases stop passing slots on until fewer than the new limit are in use.
  resize(size: number): void {
    checkSize(size);
    this.limit = size;
    this.grant();
  }

  // Resolves with a release function once a slot is free; rejects if the signal aborts while waiting.
  async acquire(signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted();
    if (this.active < this.limit && this.waiters.length === 0) {
      this.active++;
      return this.releaser();
    }
    await new Promise<void>((resolve, reject) => {
      const grant = (): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = (): void => {
        const at = this.waiters.indexOf(grant);
        if (at >= 0) this.waiters.splice(at, 1);
        reject(signal?.reason ?? new Error('aborted'));
      };
      this.waiters.push(grant);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    return this.releaser();
  }

  // How many slots are in use right now (more than `size` for a while after it shrank).
  get inUse(): number {
    return this.active;
  }

  // How many acquirers are waiting for a slot.
  get queued(): number {
    return this.waiters.length;
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
      this.grant(); // the slot passes straight to the next waiter, if the limit still has room for it
    };
  }

  // Hands free slots to waiters, oldest first, while in-use is under the limit.
  private grant(): void {
    while (this.active < this.limit) {
      const next = this.waiters.shift();
      if (!next) return;
      this.active++;
      next();
    }
  }
}

function checkSize(size: number): void {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`pool size must be a positive integer, got ${size}`);
}
