// Discord's global limit (50 requests per second per bot, docs/discord-api.md#global-limit), the one global limit of a run
// (the REST client's own is switched off, see client.ts): at most `perSecond` starts in any window of a second
// plus a margin (a sliding window, so no burst of twice the limit across the boundary of the server's own
// windows), and nothing at all while a global 429 lasts.

import { systemClock } from './clock.js';
import type { Clock } from './clock.js';

const WINDOW_MS = 1000;
const MARGIN_MS = 20; // our start times against the server's arrival times
const MAX_LOG = 1000; // above this rate the window shrinks in proportion (1,000 starts per 10 ms for 100,000/s)
// A request that has waited this long goes next whatever its priority: none waits for ever behind a stream of
// more urgent ones (nor into its own timeout).
const MAX_PRIORITY_WAIT_MS = 2_000;

interface Waiter {
  priority: number;
  order: number;
  since: number; // when it began to wait
  resolve: () => void;
  reject: (reason: unknown) => void;
  signal?: AbortSignal | undefined;
  onAbort?: () => void;
}

// A sliding-window limit on request starts, shared by every request of one client.
export class GlobalLimit {
  private readonly starts: Float64Array; // ring of the latest start times
  private readonly windowMs: number;
  private next = 0; // index of the oldest start once the ring is full
  private count = 0;
  private blockedUntil = 0;
  private readonly queue: Waiter[] = []; // requests waiting for a start
  private arrivals = 0;
  private pumping = false;
  private idle: AbortController | undefined; // ends the pump's sleep once no request waits

  // `beforeWait`: told of every wait before it is slept (a long one may be announced, or refused by throwing).
  constructor(
    perSecond: number,
    private readonly beforeWait?: (waitMs: number) => void,
    private readonly clock: Clock = systemClock,
  ) {
    const size = Math.max(1, Math.min(MAX_LOG, Math.floor(perSecond)));
    this.starts = new Float64Array(size);
    this.windowMs = ((WINDOW_MS + MARGIN_MS) * size) / Math.max(1, perSecond);
  }

  // Requests waiting for their turn right now: the limit is saturated while there are any.
  get backlog(): number {
    return this.queue.length;
  }

  // Resolves when one more request may start, and counts it as started; rejects with the signal's reason. While
  // requests wait, the one with the highest `priority` goes next (ties in arrival order): a run gives the
  // message history of its largest channels precedence (lib/archive.ts), so the many short bursts of small
  // channels never hold back the channel that sets the run's length.
  async wait(signal?: AbortSignal, priority = 0): Promise<void> {
    signal?.throwIfAborted();
    const now = this.clock.now();
    const at = this.nextStart();
    if (this.queue.length === 0 && at <= now) {
      this.record(now);
      return;
    }
    if (at > now) this.beforeWait?.(at - now);
    await new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { priority, order: this.arrivals++, since: now, resolve, reject, signal };
      waiter.onAbort = () => {
        const index = this.queue.indexOf(waiter);
        if (index >= 0) this.queue.splice(index, 1);
        if (this.queue.length === 0) this.idle?.abort(); // no timer is left waiting for nobody
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      this.queue.push(waiter);
      void this.pump();
    });
  }

  // Lets the waiting requests go, best first, one whenever the window has room; one loop at a time.
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.queue.length > 0) {
        const now = this.clock.now();
        const at = this.nextStart();
        if (at > now) {
          this.idle = new AbortController();
          await this.clock.sleep(at - now, this.idle.signal).catch(() => undefined);
          continue;
        }
        const best = this.nextWaiter(now);
        const [waiter] = this.queue.splice(best, 1);
        if (waiter === undefined) continue;
        waiter.signal?.removeEventListener('abort', waiter.onAbort!);
        this.record(now);
        waiter.resolve();
      }
    } finally {
      this.pumping = false;
    }
  }

  // The index of the waiter to go next: the one that has waited too long, else the highest priority (ties in
  // arrival order). The queue is in arrival order.
  private nextWaiter(now: number): number {
    if (now - this.queue[0]!.since >= MAX_PRIORITY_WAIT_MS) return 0;
    let best = 0;
    for (let i = 1; i < this.queue.length; i++) {
      const a = this.queue[i]!;
      const b = this.queue[best]!;
      if (a.priority > b.priority || (a.priority === b.priority && a.order < b.order)) best = i;
    }
    return best;
  }

  // When the next start may happen: after a global 429's end, and once the window has room.
  private nextStart(): number {
    let at = this.blockedUntil;
    if (this.count === this.starts.length) at = Math.max(at, this.starts[this.next]! + this.windowMs);
    return at;
  }

  // Resolves when no global 429 holds requests back (without counting a start).
  async unblocked(signal?: AbortSignal): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      const waitMs = this.blockedUntil - this.clock.now();
      if (waitMs <= 0) return;
      this.beforeWait?.(waitMs);
      await this.clock.sleep(waitMs, signal);
    }
  }

  // A global 429: no request starts before `until` (ms since the epoch).
  block(until: number): void {
    this.blockedUntil = Math.max(this.blockedUntil, until);
  }

  private record(at: number): void {
    this.starts[this.next] = at;
    this.next = (this.next + 1) % this.starts.length;
    if (this.count < this.starts.length) this.count++;
  }
}
