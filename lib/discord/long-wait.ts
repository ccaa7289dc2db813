// Long rate-limit waits. Discord may ask for a wait of hours: a 429's Retry-After (one route's bucket, or the
// global limit), or a bucket with nothing remaining and a far reset. Slept through in silence that looks like a
// hang, and keeps a scheduled job stuck for a day. So both places that sleep for a rate limit (the global limit
// and the pacer; the REST client never sleeps for one, see client.ts) ask here first: a wait over `noticeMs`
// is announced once (onLongWait: a stderr line and a `warning` event), a wait over `maxWaitMs` is refused with
// a RateLimitWaitError before any sleep, which stops the run cleanly.

import { RateLimitWaitError } from '../errors.js';
import { formatDuration } from '../util/duration.js';

export const DEFAULT_NOTICE_WAIT_MS = 10_000;
export const DEFAULT_MAX_WAIT_MS = 15 * 60_000;

// `global`: every request of the bot waits; `route`: one route's bucket (`route` says which).
export type WaitScope = 'global' | 'route';

// One wait Discord asked for.
export interface RateLimitWait {
  scope: WaitScope;
  route?: string | undefined; // e.g. "GET /channels/123/messages"
  waitMs: number;
  until: number; // ms since the epoch
}

export interface LongWaitPolicy {
  noticeMs: number; // announce waits longer than this
  maxWaitMs: number; // refuse waits longer than this
}

export type WaitDecision = 'wait' | 'announce' | 'stop';

// What to do about a wait: sleep quietly, sleep after saying so, or stop instead of sleeping.
export function decideWait(waitMs: number, policy: LongWaitPolicy): WaitDecision {
  if (waitMs > policy.maxWaitMs) return 'stop';
  if (waitMs > policy.noticeMs) return 'announce';
  return 'wait';
}

// The longest wait taken as given (30 days): anything longer (1e300 s, Infinity) is that long, so it stops the
// run like any wait over --max-wait instead of overflowing a date.
const MAX_WAIT_MS = 30 * 24 * 3600 * 1000;

// The rate-limit waits of one client: each long wait announced once however many requests see it.
export class LongWaits {
  private readonly announced = new Map<string, number>(); // what is waited for -> until when
  private current: { scope: WaitScope; until: number } | undefined; // the wait that ends last, for the progress display

  constructor(
    private readonly policy: LongWaitPolicy,
    private readonly onLongWait?: (wait: RateLimitWait) => void,
    private readonly now: () => number = Date.now,
  ) {}

  // Call before sleeping `waitMs` for a rate limit; throws RateLimitWaitError when the wait is too long.
  check(scope: WaitScope, requestedMs: number, route?: string): void {
    const waitMs = Number.isNaN(requestedMs) ? 0 : Math.min(requestedMs, MAX_WAIT_MS); // Infinity, 1e300: a month
    const decision = decideWait(waitMs, this.policy);
    if (decision !== 'stop') this.waitingFor(scope, waitMs);
    if (decision === 'wait') return;
    const now = this.now();
    const wait: RateLimitWait = { scope, route, waitMs: Math.ceil(waitMs), until: now + Math.ceil(waitMs) };
    if (decision === 'stop') throw new RateLimitWaitError(stopMessage(wait, this.policy.maxWaitMs), { waitMs: wait.waitMs, until: wait.until });
    const key = waitedFor(wait);
    const known = this.announced.get(key);
    if (known !== undefined && wait.until <= known + 1000) return; // the same wait, met by another request
    for (const [other, until] of this.announced) if (until < now) this.announced.delete(other);
    this.announced.set(key, wait.until);
    this.onLongWait?.(wait);
  }

  // The rate-limit wait requests are in now (the one that ends last), or undefined when none is.
  waiting(): { scope: WaitScope; until: number } | undefined {
    const current = this.current;
    return current !== undefined && current.until > this.now() ? current : undefined;
  }

  private waitingFor(scope: WaitScope, waitMs: number): void {
    if (waitMs <= 0) return;
    const until = this.now() + waitMs;
    if (this.current === undefined || this.current.until < until) this.current = { scope, until };
  }
}

// "Discord's global rate limit", "the rate limit of GET /channels/123/messages".
export function waitedFor(wait: Pick<RateLimitWait, 'scope' | 'route'>): string {
  return wait.scope === 'global' ? "Discord's global rate limit" : `the rate limit of ${wait.route ?? 'a route'}`;
}

// An instant as people read it in logs: ISO 8601 in UTC, to the second.
export function isoSecond(at: number): string {
  return new Date(Math.ceil(at / 1000) * 1000).toISOString().replace(/\.000Z$/, 'Z');
}

// The stderr line of an announced wait.
export function longWaitLine(wait: RateLimitWait): string {
  return `waiting ${formatDuration(wait.waitMs)} for ${waitedFor(wait)}, until ${isoSecond(wait.until)}`;
}

function stopMessage(wait: RateLimitWait, maxWaitMs: number): string {
  return (
    `stopping: Discord asks to wait ${formatDuration(wait.waitMs)} for ${waitedFor(wait)} (until ${isoSecond(wait.until)}), ` +
    `longer than --max-wait ${formatDuration(maxWaitMs)}. Progress is saved: re-run after that time to resume, or raise --max-wait.`
  );
}
