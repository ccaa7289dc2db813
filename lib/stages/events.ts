// events: the pass's events go out through `emit` (the caller decides where they are printed), and the
// files that need a person's attention get a line on the log too: a failed file one line each, files over
// --max-size one line per channel with their count (when its channel_done passes, or when the pass ends), not
// one per file. While the output is full (a paused reader) the pass waits, and with it every stage before it
// (bounded buffers), so a slow reader costs time, not memory. A stopped run does not wait for it.

import type { DpsEvent } from '../output/events.js';
import { formatBytes } from '../output/human-progress.js';
import { whenAborted } from '../util/link-signals.js';

export interface EventsOptions {
  // May return a promise while the output is full: the next event is taken once it resolves.
  emit?: ((event: DpsEvent) => void | Promise<void>) | undefined;
  log?: ((line: string) => void) | undefined;
  signal?: AbortSignal | undefined;
}

// The start of the log line of a failed file: the human output (lib/index.ts) leaves these out of stderr when it
// prints the same failure on the terminal's stdout.
export const FAILED_WARNING = 'warning: failed ';

// Emits every event of `source`; resolves when the source ends.
export async function emitEvents(source: AsyncIterable<DpsEvent>, options: EventsOptions): Promise<void> {
  const tooLarge = new TooLarge();
  try {
    for await (const event of source) {
      if (event.event === 'channel_done') tooLarge.report(options.log, `#${event.channel_name}`);
      const drained = options.emit?.(event);
      const line = warningFor(event);
      if (line !== undefined) options.log?.(line);
      tooLarge.count(event);
      if (drained !== undefined) await untilDrained(drained, options.signal);
    }
  } finally {
    tooLarge.report(options.log);
  }
}

// The stderr line for a failed file.
function warningFor(event: DpsEvent): string | undefined {
  if (event.event === 'failed') return `${FAILED_WARNING}${event.filename} (message ${event.message_id}): ${event.reason}`;
  return undefined;
}

// The files of a pass skipped for --max-size, reported as one line per channel.
class TooLarge {
  private files = 0;
  private bytes = 0;
  private largest = { bytes: -1, name: '' };
  private channelId: string | undefined;

  count(event: DpsEvent): void {
    if (event.event !== 'skipped' || event.reason !== 'too_large') return;
    this.files++;
    this.bytes += event.size ?? 0;
    if ((event.size ?? 0) > this.largest.bytes) this.largest = { bytes: event.size ?? 0, name: event.filename ?? '' };
    this.channelId = event.channel_id;
  }

  // "warning: #art: skipped 12 files larger than --max-size (340.2 MB in all; the largest: clip.mov, 80.1 MB)", or
  // for one file "warning: #art: skipped 1 file larger than --max-size: clip.mov (80.1 MB)".
  report(log: ((line: string) => void) | undefined, name?: string): void {
    if (this.files === 0) return;
    const where = name ?? `channel ${this.channelId}`;
    const { name: largest, bytes } = this.largest;
    log?.(
      this.files === 1
        ? `warning: ${where}: skipped 1 file larger than --max-size: ${largest} (${formatBytes(bytes)})`
        : `warning: ${where}: skipped ${this.files.toLocaleString('en-US')} files larger than --max-size (${formatBytes(this.bytes)} in all; the largest: ${largest}, ${formatBytes(bytes)})`,
    );
    this.files = 0;
    this.bytes = 0;
    this.largest = { bytes: -1, name: '' };
  }
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
