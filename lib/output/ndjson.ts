// Writes one JSON object per line to a stream, honouring backpressure; a closed pipe (`| head`) is not an error.

import type { Writable } from 'node:stream';

export class NdjsonWriter {
  private closed = false;
  private waiting: Promise<void> | undefined;

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
    const ok = this.stream.write(`${JSON.stringify(value)}\n`);
    if (ok) return Promise.resolve();
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
    return this.waiting;
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
