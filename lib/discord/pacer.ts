// Proactive pacing per route: Discord's headers can under-report a route's real limit (hidden sub-limits of
// about 5 requests per 5 s per channel on message history, discord-api-docs #8161). A 429 is information:
// its headers carry the real limit, and with the start times of our own requests it tells the window. The
// learnt limit belongs to the bucket (the route without its major id, like Discord's X-RateLimit-Bucket), so
// one channel's 429 paces every channel; each route + major id then keeps at most `limit` starts in any window.

import { systemClock } from './clock.js';
import type { Clock } from './clock.js';
import type { RateLimitAnswer } from './rate-limit-headers.js';

interface RouteState {
  starts: number[]; // start times of the latest requests (ascending, at most MAX_LOG)
  nextAt: number; // earliest start time of the next request (a reset we must wait for)
  started: number; // requests started on this route
  firstAt?: number; // when its first request ended: the reference for spans (queueing before it does not count)
  sent: number[]; // when requests left, after any queue outside the pacer (Pacer.sent): ascending, at most MAX_LOG
}

// A request the pacer let go: call it when the request has ended, however it ended, with true when it was
// accepted (not answered 429). Pacer.sent() is told when it actually leaves.
export type PacedRequest = (accepted?: boolean) => void;

// Until a bucket's real limit is known, no route of it goes faster than one already went unpunished: a route
// may start its n-th request at time t after the end of its own first one only when some route of the bucket
// had its n-th request accepted when started no later than t after the end of its first. Two requests at a time (the
// probes: a channel is walked from both ends, lib/discord/pages.ts) may go beyond that. A
// hidden limit then answers the probe with a 429, which teaches every route, instead of answering one request
// of every route at once (40 channels reaching their 6th request of a window together).
interface BucketProbe {
  spans: number[]; // [n]: the shortest time from a route's first start to an accepted n-th start
  probing: number; // requests beyond what `spans` proves in flight
  wake: Array<() => void>; // routes waiting for the probe to end or for a new proof
}

interface BucketLimit {
  limit: number; // requests per window
  windowMs: number;
}

export interface PacerOptions {
  polite?: boolean; // pace every route at >= politeIntervalMs even before any 429
  politeIntervalMs?: number;
  onWait?: (route: string, waitMs: number) => void; // before each wait is slept (may throw: the request is not made)
  clock?: Clock;
}

const MAX_LOG = 64; // starts remembered per route (limits above this are paced by their spacing only)
const PROBES = 2; // requests of a bucket that may go beyond what its routes have proven, at once
const MARGIN_MS = 50; // clock and network jitter between our start times and the server's window

// Turns `/channels/123/messages/456` into `/channels/123/messages/:id`: buckets are per route + major id.
export function routeKey(path: string): string {
  const clean = path.split('?')[0] ?? path;
  let seenMajor = false;
  return clean
    .split('/')
    .map((segment) => {
      if (!/^\d{5,}$/.test(segment)) return segment;
      if (!seenMajor) {
        seenMajor = true;
        return segment;
      }
      return ':id';
    })
    .join('/');
}

// The bucket of a route key: the same route for every major id (`/channels/:major/messages`).
function bucketKey(key: string): string {
  return key.replace(/\/\d{5,}(?=\/|$)/, '/:major');
}

// Per-route pacing learnt from 429s (and fixed spacing in --polite mode).
export class Pacer {
  private readonly routes = new Map<string, RouteState>();
  private readonly buckets = new Map<string, BucketLimit>();
  private readonly probes = new Map<string, BucketProbe>();
  private readonly politeMs: number;
  private readonly onWait: PacerOptions['onWait'];
  private readonly clock: Clock;

  constructor(options: PacerOptions = {}) {
    this.politeMs = options.polite ? (options.politeIntervalMs ?? 1100) : 0;
    this.onWait = options.onWait;
    this.clock = options.clock ?? systemClock;
  }

  // Resolves when a request on `path` may start, reserving its slot (see PacedRequest).
  async wait(path: string, signal?: AbortSignal): Promise<PacedRequest> {
    const key = routeKey(path);
    const state = this.route(key);
    const done = await this.admit(key, state, signal);
    let startAt: number;
    try {
      startAt = await this.pace(key, state, signal);
    } catch (error) {
      done();
      throw error;
    }
    let ended = false;
    const end = (accepted?: boolean): void => {
      if (ended) return;
      ended = true;
      // The server counts a request when it arrives, which can be long after we let it go (the REST client's
      // queue, the global limit): from now on its time in the log is when it ended, which is later
      // than its arrival, so windows measured from the log never end before the server's do.
      const at = state.starts.lastIndexOf(startAt);
      if (at >= 0) {
        state.starts.splice(at, 1);
        record(state.starts, Math.max(startAt, this.clock.now()));
      }
      done(accepted);
    };
    return end;
  }

  // A request on `path` leaves now (after the queues outside the pacer: the REST client's, the global limit).
  sent(path: string): void {
    record(this.route(routeKey(path)).sent, this.clock.now());
  }

  private route(key: string): RouteState {
    let state = this.routes.get(key);
    if (!state) {
      state = { starts: [], nextAt: 0, started: 0, sent: [] };
      this.routes.set(key, state);
    }
    return state;
  }

  // The probe gate of a bucket whose limit is not known yet (see BucketProbe).
  private async admit(key: string, state: RouteState, signal: AbortSignal | undefined): Promise<(accepted?: boolean) => void> {
    const bucket = bucketKey(key);
    for (;;) {
      signal?.throwIfAborted();
      if (this.buckets.has(bucket)) break;
      let probe = this.probes.get(bucket);
      if (!probe) {
        probe = { spans: [], probing: 0, wake: [] };
        this.probes.set(bucket, probe);
      }
      const now = this.clock.now();
      const ordinal = state.started + 1;
      const span = ordinal === 1 ? 0 : now - (state.firstAt ?? now);
      const proof = probe.spans[ordinal];
      const proven = proof !== undefined && proof <= span;
      if (proven || probe.probing < PROBES) {
        const held = proven ? undefined : probe;
        if (held) held.probing++;
        state.started++;
        const gate = probe;
        let ended = false;
        return (accepted = false) => {
          if (ended) return;
          ended = true;
          if (ordinal === 1) state.firstAt ??= this.clock.now();
          if (accepted && !(gate.spans[ordinal]! <= span)) gate.spans[ordinal] = span;
          if (held) held.probing--;
          if (held || accepted) wakeAll(gate);
        };
      }
      await waitForWake(probe, signal);
    }
    state.started++;
    return () => {
      state.firstAt ??= this.clock.now();
    };
  }

  // Waits for the route's learnt pace and logs the start; resolves with the logged start time.
  private async pace(key: string, state: RouteState, signal: AbortSignal | undefined): Promise<number> {
    const now = this.clock.now();
    let startAt = Math.max(now, state.nextAt);
    const { starts } = state;
    const learnt = this.buckets.get(bucketKey(key));
    if (learnt) {
      if (learnt.limit <= MAX_LOG && starts.length >= learnt.limit)
        startAt = Math.max(startAt, starts[starts.length - learnt.limit]! + learnt.windowMs + MARGIN_MS);
      else if (learnt.limit > MAX_LOG && starts.length > 0) startAt = Math.max(startAt, starts[starts.length - 1]! + learnt.windowMs / learnt.limit);
    }
    if (this.politeMs > 0 && starts.length > 0) startAt = Math.max(startAt, starts[starts.length - 1]! + this.politeMs);
    if (startAt > now) this.onWait?.(key, startAt - now);
    record(starts, startAt);
    if (startAt > now) await this.clock.sleep(startAt - now, signal);
    return startAt;
  }

  // The learnt average spacing of a route, in ms (0 when unpaced).
  intervalOf(path: string): number {
    const learnt = this.buckets.get(bucketKey(routeKey(path)));
    return Math.max(learnt ? learnt.windowMs / learnt.limit : 0, this.politeMs);
  }

  // A 429: the headers sent with it carry the real limit; reset-after tells when the current window ends, and
  // the start of the oldest of the `limit` requests accepted before it tells when that window began. The retry
  // waits for the window's end (or the 429's wait, when later) in wait(), like any request.
  onRateLimited(path: string, answer: RateLimitAnswer): void {
    if (answer.global) return;
    const now = this.clock.now();
    const key = routeKey(path);
    const state = this.route(key);
    const { limit } = answer;
    const retryMs = answer.retryAfterMs > 0 ? answer.retryAfterMs : undefined;
    const resetMs = answer.resetAfterMs !== undefined && answer.resetAfterMs > 0 ? answer.resetAfterMs : retryMs;
    const bucket = bucketKey(key);
    const previous = this.buckets.get(bucket);
    if (limit !== undefined && resetMs !== undefined) {
      // The last request is the rejected one; the `limit` before it were accepted in the window that just
      // ended, which began when the server counted the oldest of them: after it was sent, before it ended.
      // Measured from its end (the starts log), the window looks shorter than the server's by as long as that
      // response took, and every channel whose first response had been quicker is then paced into a 429: so it
      // is measured from when that request was sent, where known.
      const log = state.sent.length > limit ? state.sent : state.starts;
      const first = log.length > limit ? log[log.length - 1 - limit] : undefined;
      const windowMs = Math.max(resetMs, first !== undefined ? now + resetMs - first : 0);
      this.buckets.set(bucket, { limit: Math.min(previous?.limit ?? limit, limit), windowMs: Math.min(Math.max(previous?.windowMs ?? 0, windowMs), 60_000) });
    } else {
      // No usable headers: halve the pace we knew (or start at 4 per second).
      const spacing = Math.min(Math.max(previous ? (previous.windowMs / previous.limit) * 2 : 250, 250), 60_000);
      this.buckets.set(bucket, { limit: 1, windowMs: spacing });
    }
    const probe = this.probes.get(bucket);
    if (probe) {
      this.probes.delete(bucket); // the limit is known now: the gate opens for good
      wakeAll(probe);
    }
    state.nextAt = Math.max(state.nextAt, now + Math.max(retryMs ?? 0, resetMs ?? 0));
  }

  // A successful response: when the bucket is empty, wait for its reset before the next start.
  onResponse(path: string, answer: RateLimitAnswer): void {
    const state = this.routes.get(routeKey(path));
    if (state && answer.remaining === 0 && answer.resetAfterMs !== undefined) this.hold(path, answer.resetAfterMs);
  }

  // No request of the route starts in the next `ms` (a bucket the REST client still counts as empty).
  hold(path: string, ms: number): void {
    const state = this.route(routeKey(path));
    state.nextAt = Math.max(state.nextAt, this.clock.now() + ms);
  }
}

function wakeAll(probe: BucketProbe): void {
  const waiting = probe.wake;
  probe.wake = [];
  for (const wake of waiting) wake();
}

// Resolves at the next change of the probe (or rejects with the signal's reason).
function waitForWake(probe: BucketProbe, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(signal?.reason);
    probe.wake.push(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

// Adds a start time, keeping the log sorted and bounded.
function record(starts: number[], at: number): void {
  let i = starts.length;
  while (i > 0 && starts[i - 1]! > at) i--;
  starts.splice(i, 0, at);
  if (starts.length > MAX_LOG) starts.shift();
}
