// Proactive pacing per route: Discord's headers can under-report a route's real limit (hidden sub-limits of
// about 5 requests per 5 s per channel on message history, discord-api-docs #8161). A 429 is information:
// learn the real pace from it and space later requests so a lying header costs a few 429s, not one in five.

import { setTimeout as sleep } from 'node:timers/promises';

interface HeadersLike {
  get(name: string): string | null;
}

interface RouteState {
  intervalMs: number; // minimum spacing between request starts
  nextAt: number; // earliest start time of the next request
}

export interface PacerOptions {
  polite?: boolean; // pace every route at >= politeIntervalMs even before any 429
  politeIntervalMs?: number;
}

const SAFETY = 1.1; // pace 10% below the learnt limit

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

// Per-route pacing learnt from 429s (and fixed spacing in --polite mode).
export class Pacer {
  private readonly routes = new Map<string, RouteState>();
  private readonly politeMs: number;

  constructor(options: PacerOptions = {}) {
    this.politeMs = options.polite ? (options.politeIntervalMs ?? 1100) : 0;
  }

  // Resolves when a request on `path` may start, reserving its slot.
  async wait(path: string, signal?: AbortSignal): Promise<void> {
    const key = routeKey(path);
    let state = this.routes.get(key);
    if (!state) {
      if (this.politeMs === 0) return;
      state = { intervalMs: this.politeMs, nextAt: 0 };
      this.routes.set(key, state);
    }
    const now = Date.now();
    const startAt = Math.max(now, state.nextAt);
    state.nextAt = startAt + state.intervalMs;
    if (startAt > now) await sleep(startAt - now, undefined, signal ? { signal } : undefined);
  }

  // The learnt spacing of a route, in ms (0 when unpaced).
  intervalOf(path: string): number {
    return this.routes.get(routeKey(path))?.intervalMs ?? 0;
  }

  // A 429: the headers sent with it carry the real limit; retry_after tells how long the window still runs.
  onRateLimited(path: string, _bucketRoute: string, headers: HeadersLike): void {
    if (headers.get('x-ratelimit-global') || headers.get('x-ratelimit-scope') === 'global') return;
    const limit = Number(headers.get('x-ratelimit-limit'));
    const resetAfter = Number(headers.get('x-ratelimit-reset-after') ?? headers.get('retry-after'));
    const key = routeKey(path);
    const state = this.routes.get(key) ?? { intervalMs: this.politeMs, nextAt: 0 };
    let learnt: number;
    if (Number.isFinite(limit) && limit > 0 && Number.isFinite(resetAfter) && resetAfter > 0) {
      // After a burst of `limit` requests the window still runs for about `resetAfter`:
      // spacing requests by window/limit never exceeds it.
      learnt = Math.max((resetAfter * 1000) / limit, 1000 / Math.max(limit, 1)) * SAFETY;
    } else {
      learnt = Math.max(state.intervalMs * 2, 250);
    }
    state.intervalMs = Math.min(Math.max(state.intervalMs, learnt), 60_000);
    state.nextAt = Math.max(state.nextAt, Date.now() + (Number.isFinite(resetAfter) ? resetAfter * 1000 : 0));
    this.routes.set(key, state);
  }

  // A successful response: when the headers say the bucket is empty, wait for its reset before the next start.
  onResponse(path: string, _bucketRoute: string, headers: HeadersLike): void {
    const state = this.routes.get(routeKey(path));
    if (!state) return;
    const remaining = headers.get('x-ratelimit-remaining');
    const resetAfter = Number(headers.get('x-ratelimit-reset-after'));
    if (remaining === '0' && Number.isFinite(resetAfter)) {
      state.nextAt = Math.max(state.nextAt, Date.now() + resetAfter * 1000);
    }
  }
}
