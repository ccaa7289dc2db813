// Exponential backoff with jitter for retries of transient failures (Discord's API, the CDN): attempt 0 waits
// baseMs/2..baseMs, each further attempt doubles it, capped at 30 s. A server's own Retry-After, when given,
// replaces the guess (capped at 60 s: longer waits are the rate limiter's business, not a retry's).
import { setTimeout as sleep } from 'node:timers/promises';
import { AbortedError } from '../errors.js';

const CAP_MS = 30_000;
const HINT_CAP_MS = 60_000;

export function backoffDelay(attempt: number, baseMs: number, retryAfterMs?: number, random: () => number = Math.random): number {
  if (retryAfterMs !== undefined) return Math.min(retryAfterMs, HINT_CAP_MS);
  const cap = Math.min(CAP_MS, baseMs * 2 ** attempt);
  return cap / 2 + random() * (cap / 2);
}

// Waits backoffDelay(...); an abort ends the wait with AbortedError.
export async function backoff(attempt: number, baseMs: number, signal: AbortSignal | undefined, retryAfterMs?: number): Promise<void> {
  try {
    await sleep(backoffDelay(attempt, baseMs, retryAfterMs), undefined, signal ? { signal } : undefined);
  } catch {
    throw new AbortedError('aborted', { cause: signal?.reason });
  }
}
