// Discord's global limit (50 requests per second per bot, docs/discord-api.md#global-limit), the one global limit of a run
// (the REST client's own is switched off, see client.ts): at most `perSecond` starts in any window of a second
// plus a margin (a sliding window, so no burst of twice the limit across the boundary of the server's own
// windows), and nothing at all while a global 429 lasts.

import { systemClock } from './clock.js';
import type { Clock } from './clock.js';

const WINDOW_MS = 1000;
const MARGIN_MS = 20; // our start times against the server's arrival times
const MAX_LOG = 1000; // above this rate the window shrinks in proportion (1,000 starts per 10 ms for 100,000/s)

// A sliding-window limit on request starts, shared by every request of one client.
export class GlobalLimit {
  private readonly starts: Float64Array; // ring of the latest start times
  private readonly windowMs: number;
  private next = 0; // index of the oldest start once the ring is full
  private count = 0;
  private blockedUntil = 0;

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

  // Resolves when one more request may start, and counts it as started; rejects with the signal's reason.
  async wait(signal?: AbortSignal): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      const now = this.clock.now();
      let at = this.blockedUntil;
      if (this.count === this.starts.length) at = Math.max(at, this.starts[this.next]! + this.windowMs);
      if (at <= now) {
        this.record(now);
        return;
      }
      this.beforeWait?.(at - now);
      await this.clock.sleep(at - now, signal);
    }
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
