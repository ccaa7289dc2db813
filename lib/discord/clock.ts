// Time as the rate-limit and link code sees it: the wall clock in a run, a clock a test moves by hand, so
// pacing, global-limit and expiry tests run in milliseconds instead of waiting real seconds.

import { setTimeout as sleep } from 'node:timers/promises';

export interface Clock {
  now(): number; // ms since the epoch
  sleep(ms: number, signal?: AbortSignal): Promise<void>; // rejects with the signal's reason on abort
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    sleep(ms, undefined, signal ? { signal } : undefined).catch((error: unknown) => {
      throw signal?.aborted ? signal.reason : error;
    }),
};
