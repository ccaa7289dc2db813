// events: the pass's events go out through `emit` (the caller decides where they are printed), and the
// files that need a person's attention get a line on the log too. While the output is full (a paused reader)
// the pass waits, and with it every stage before it (bounded buffers), so a slow reader costs time, not
// memory. A stopped run does not wait for it.

import type { DpsEvent } from '../output/events.js';
import { whenAborted } from '../util/link-signals.js';

export interface EventsOptions {
  // May return a promise while the output is full: the next event is taken once it resolves.
  emit?: ((event: DpsEvent) => void | Promise<void>) | undefined;
  log?: ((line: string) => void) | undefined;
  signal?: AbortSignal | undefined;
}

// Emits every event of `source`; resolves when the source ends.
export async function emitEvents(source: AsyncIterable<DpsEvent>, options: EventsOptions): Promise<void> {
  for await (const event of source) {
    const drained = options.emit?.(event);
    const line = warningFor(event);
    if (line !== undefined) options.log?.(line);
    if (drained !== undefined) await untilDrained(drained, options.signal);
  }
}

// The stderr line for a file skipped because it is too large, or failed.
function warningFor(event: DpsEvent): string | undefined {
  if (event.event === 'skipped' && event.reason === 'too_large') return `warning: skipped ${event.filename}: ${event.detail}`;
  if (event.event === 'failed') return `warning: failed ${event.filename} (message ${event.message_id}): ${event.reason}`;
  return undefined;
}

// Resolves when `drained` does or the run is stopped, whichever comes first (the listener is removed either way).
async function untilDrained(drained: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return drained;
  const { aborted, dispose } = whenAborted(signal);
  try {
    await Promise.race([drained, aborted]);
  } finally {
    dispose();
  }
}
