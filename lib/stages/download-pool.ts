// The run's download slots, shared by every channel: a fixed number (--concurrency N), or a number the downloads'
// own outcomes move (--concurrency auto, util/adaptive-limit.ts): fetch.ts reports each completed transfer and
// each sign of a congested CDN (a 429 or 503, a reset connection), and the limit follows.

import { hasCode } from '../errors.js';
import { AdaptiveLimit } from '../util/adaptive-limit.js';
import { Semaphore } from '../util/semaphore.js';

// What fetch.ts needs from the pool.
export interface DownloadPool {
  // Resolves with the function that gives the slot back; rejects if the signal aborts while waiting.
  acquire(signal?: AbortSignal): Promise<() => void>;
  // The surface it shares with a Semaphore: downloads allowed at once now, in progress, waiting for a slot.
  readonly size: number;
  readonly inUse: number;
  readonly queued: number;
  readonly cap: number; // the most it will ever allow
  // Downloads are the bottleneck: files wait for slots and the limit is not growing (pinned, or settled).
  readonly saturated: boolean;
  // A stream of downloads (one fetch stage: a channel's pass) starts feeding the pool; the function ends it.
  join(): () => void;
  readonly streams: number; // streams feeding the pool now
  transferred(bytes: number): void; // a transfer's body has fully arrived (after its slot was released)
  congested(): void; // the CDN answered 429 or 503, or reset the connection (before the slot is released)
}

// Where the initial level of `auto` comes from: the old fixed default, which a CDN is known to accept.
export const AUTO_INITIAL = 8;

export interface PoolOptions {
  concurrency: number | 'auto';
  maxConcurrency: number; // auto's cap
  now?: (() => number) | undefined; // the controller's clock [performance.now]
}

// The pool a run's options ask for: pinned, or adaptive from 8 up to the cap.
export function createDownloadPool(options: PoolOptions): DownloadPool {
  if (options.concurrency !== 'auto') return new FixedPool(new Semaphore(options.concurrency));
  const controller = new AdaptiveLimit({
    initial: AUTO_INITIAL,
    max: options.maxConcurrency,
    now: options.now ?? (() => performance.now()),
  });
  return new AdaptivePool(controller, options.maxConcurrency);
}

// A pool as fetch uses it: a plain Semaphore (a caller's own, shared between archive() calls) is a fixed pool.
export function asDownloadPool(pool: DownloadPool | Semaphore): DownloadPool {
  return pool instanceof Semaphore ? new FixedPool(pool) : pool;
}

// Undici's codes for a connection the other side closed or reset, and the system's.
const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']);

// True when a download's failure says the CDN is congested: a DownloadError with status 429 or 503, or a
// network failure (reason `network`, or an error not ours) whose cause chain carries a reset code. Read from
// typed fields only, never from a message.
export function isCongestion(error: unknown): boolean {
  if (hasCode(error, 'DPS_DOWNLOAD') && (error.status === 429 || error.status === 503)) return true;
  if (hasCode(error, 'DPS_DOWNLOAD') && error.reason !== 'network') return false;
  let e = error as { code?: unknown; cause?: unknown } | undefined;
  for (let depth = 0; e !== undefined && e !== null && depth < 4; depth++) {
    if (typeof e.code === 'string' && RESET_CODES.has(e.code)) return true;
    e = e.cause as typeof e;
  }
  return false;
}

// Slots in a Semaphore, and the streams feeding them.
abstract class SlotPool {
  streams = 0;
  constructor(protected readonly slots: Semaphore) {}
  join(): () => void {
    this.streams++;
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.streams--;
    };
  }
  acquire(signal?: AbortSignal): Promise<() => void> {
    return this.slots.acquire(signal);
  }
  get size(): number {
    return this.slots.size;
  }
  get inUse(): number {
    return this.slots.inUse;
  }
  get queued(): number {
    return this.slots.queued;
  }
}

// A pinned number of slots: outcomes are not its business.
class FixedPool extends SlotPool implements DownloadPool {
  get cap(): number {
    return this.slots.size;
  }
  get saturated(): boolean {
    return this.slots.queued > 0;
  }
  transferred(): void {}
  congested(): void {}
}

// Slots whose number the controller moves after each observation.
class AdaptivePool extends SlotPool implements DownloadPool {
  constructor(
    private readonly controller: AdaptiveLimit,
    readonly cap: number,
  ) {
    super(new Semaphore(controller.limit));
  }
  get saturated(): boolean {
    return this.slots.queued > 0 && this.controller.settled;
  }
  transferred(bytes: number): void {
    // Busy: the released slot went straight to a waiting download (or the pool is over its limit).
    this.controller.transferred(bytes, this.slots.inUse >= this.slots.size);
    this.follow();
  }
  congested(): void {
    this.controller.congested();
    this.follow();
  }
  private follow(): void {
    if (this.controller.limit !== this.slots.size) this.slots.resize(this.controller.limit);
  }
}
