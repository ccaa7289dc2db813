// Writes one JSON object per line to a stream, honouring backpressure; a closed pipe (`| head`) is not an error.
// The lines of one turn of the event loop go out in one write: a pipe wakes its reader on every write, and a
// run saving thousands of small files a second would otherwise wake it thousands of times (bench/limits.md).
// They are written before anything the same turn started can finish (a cursor's write to LevelDB), and
// flush() writes what is left at once.

import type { Writable } from 'node:stream';

export class NdjsonWriter {
  private closed = false;
  private waiting: Promise<void> | undefined;
  private pending: string[] = [];

  constructor(
    private readonly stream: Writable,
    private readonly onClosed?: () => void,
  ) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE' || error.code === 'ERR_STREAM_DESTROYED') this.close();
    });
    stream.on('close', () => this.close());
  }

  // Queues one line; returns a promise that resolves when the stream can take more (await it to apply backpressure).
  write(value: unknown): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.pending.push(`${JSON.stringify(value)}\n`);
    if (this.pending.length === 1) setImmediate(() => this.flush());
    return this.waiting ?? Promise.resolve();
  }

  // Writes the queued lines now.
  flush(): void {
    const lines = this.pending;
    this.pending = [];
    if (this.closed || lines.length === 0) return;
    if (this.stream.write(lines.length === 1 ? lines[0]! : lines.join(''))) return;
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

  get isClosed(): boolean {
    return this.closed;
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClosed?.();
  }
}
