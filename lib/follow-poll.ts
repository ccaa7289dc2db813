// `dps follow` with a user token: no Gateway (automating a user account's gateway session breaks Discord's terms
// far more visibly than its REST calls), so every followed channel is looked at again every `intervalMs`: each
// look is a catch-up from its cursor (one request for a channel with nothing new: the newest message's id),
// through the run's pacer like every other request. A look still running when the next is due runs once more
// after it, never twice at once (lib/follow.ts).

import { setTimeout as sleep } from 'node:timers/promises';
import type { LiveEvent } from './follow.js';

// Stops (ends) when `signal` aborts. `wait` is for tests (a clock they move) [a timer].
export async function* pollEvents(
  intervalMs: number,
  signal: AbortSignal,
  wait: (ms: number, signal: AbortSignal) => Promise<unknown> = (ms, s) => sleep(ms, undefined, { signal: s }),
): AsyncGenerator<LiveEvent> {
  yield { type: 'ready', resumed: false };
  while (!signal.aborted) {
    try {
      await wait(intervalMs, signal);
    } catch {
      return; // aborted
    }
    if (signal.aborted) return;
    yield { type: 'gap', why: 'poll' };
  }
}
