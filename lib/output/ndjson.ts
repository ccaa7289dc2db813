// Writes one JSON object per line to a stream, honouring backpressure; a closed pipe (`| head`) is not an error.
// Lines are gathered for up to FLUSH_MS (or FLUSH_LINES lines) and go out in one write: a pipe wakes its reader
// on every write, and a run saving hundreds of small files a second wrote (and woke it) once per turn of the
// event loop, ~1 line per write (bench/limits.md). flush() writes what is waiting at once: the archive calls it
// before it saves a cursor, so no line is lost behind a cursor that has moved past its file.

import type { Writable } from 'node:stream';

const FLUSH_MS = 25;
const FLUSH_LINES = 256;

// How a writer shows its values: `format` turns one into its text ('' for nothing; default: one JSON line),
// `around` wraps each write (the human output goes above the progress block: Progress.above).
export interface LineFormat {
  format?: ((value: unknown) => string) | undefined;
  around?: ((write: () => void) => void) | undefined;
}

export class NdjsonWriter {
  private closed = false;
  private waiting: Promise<void> | undefined;
  private pending: string[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly stream: Writable,
    private readonly onClosed?: () => void,
    private readonly shape: LineFormat = {},
  ) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE' || error.code === 'ERR_STREAM_DESTROYED') this.close();
    });
    stream.on('close', () => this.close());
  }

  // Queues one line. While the stream is full (a slow or paused reader) returns a promise that resolves once it
  // drains: the run awaits it (lib/archive.ts emitAll), so the pipeline stops instead of buffering without bound.
  // Otherwise returns undefined, so the common case costs no promise.
  write(value: unknown): Promise<void> | undefined {
    if (this.closed) return undefined;
    if (this.shape.format !== undefined) {
      const text = this.shape.format(value);
      if (text === '') return this.waiting;
      this.pending.push(text);
    } else this.pending.push(`${JSON.stringify(value)}\n`);
    if (this.pending.length >= FLUSH_LINES) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), FLUSH_MS);
    return this.waiting;
  }

  // Writes the queued lines now.
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const lines = this.pending;
    this.pending = [];
    if (this.closed || lines.length === 0) return;
    if (this.send(lines.length === 1 ? lines[0]! : lines.join(''))) return;
    this.waiting ??= new Promise<void>((resolve) => {
      const done = (): void => {
        this.stream.off('drain', done);
        this.stream.off('close', done);
        this.waiting = undefined;
        resolve();
      };
      this.stream.on('drain', done);
      this.stream.on('close', done);
    });
  }

  private send(text: string): boolean {
    if (this.shape.around === undefined) return this.stream.write(text);
    let written = true;
    this.shape.around(() => (written = this.stream.write(text)));
    return written;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.pending = [];
    this.onClosed?.();
  }
}
