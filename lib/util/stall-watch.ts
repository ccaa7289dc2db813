// A stop (SIGINT: ArchiveIO.signal) lets the files being transferred finish, but a transfer whose server went
// silent would hold the run for the whole download timeout (--timeout, 60 s). Once the run is stopping, a
// transfer that has waited `graceMs` for its headers or its next bytes is cancelled (its temp file is removed
// and its item is left for the next run, neither failed nor announced), and so is one that trickles (less than
// TRICKLE_BYTES in a grace period spent mostly waiting on the network: a drip of a byte a second never goes
// silent); one that is receiving finishes.

import { setTimeout as sleep } from 'node:timers/promises';

// Below this many bytes per grace period (32 KiB/s at the default 2 s), a transfer is as good as stalled.
const TRICKLE_BYTES = 64 * 1024;

export interface StallWatchOptions {
  stop?: AbortSignal | undefined; // the run is stopping: from now on, stalled transfers are cancelled
  cancel?: AbortSignal | undefined; // cancels every transfer at once (ArchiveIO.hardSignal)
  graceMs: number;
  clock?: StallClock | undefined; // for tests: time a test moves by hand [the system clock]
}

// The time the watch reads and waits on (lib/discord/clock.ts's Clock has this shape).
export interface StallClock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>; // rejects on abort
}

const systemClock: StallClock = { now: () => Date.now(), sleep: (ms, signal) => sleep(ms, undefined, { signal }) };

// The transfers of one run.
export class StallWatch {
  private readonly active = new Set<WatchedTransfer>();
  private stopping = false;
  private readonly onStop = (): void => {
    this.stopping = true;
    for (const transfer of this.active) transfer.arm();
  };

  constructor(private readonly options: StallWatchOptions) {
    if (options.stop?.aborted) this.stopping = true;
    else options.stop?.addEventListener('abort', this.onStop, { once: true });
  }

  // A transfer starting now (waiting for its headers); call end() when it is over, however it ended.
  begin(): WatchedTransfer {
    const transfer = new WatchedTransfer(this.options, () => this.active.delete(transfer));
    this.active.add(transfer);
    if (this.stopping) transfer.arm();
    return transfer;
  }

  close(): void {
    this.options.stop?.removeEventListener('abort', this.onStop);
  }
}

// One transfer: its signal (pass it to the request and the body's consumer) and how long it has waited.
export class WatchedTransfer {
  private readonly controller = new AbortController();
  private readonly clock: StallClock;
  private waitingSince: number | undefined; // the headers are awaited from the start
  private received = 0; // bytes of the body so far
  private waited = 0; // ms spent awaiting body chunks so far (not the consumer's time)
  private finished = false; // the body is in (or the transfer is over): never cancelled for a stall again
  private timer: AbortController | undefined; // the grace period being waited
  private readonly onCancel = (): void => this.controller.abort(this.options.cancel?.reason);

  constructor(
    private readonly options: StallWatchOptions,
    private readonly onEnd: () => void,
  ) {
    this.clock = options.clock ?? systemClock;
    this.waitingSince = this.clock.now();
    if (options.cancel?.aborted) this.onCancel();
    else options.cancel?.addEventListener('abort', this.onCancel, { once: true });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  // The headers are in: the body, read through this, counts as waiting only while its next chunk is awaited
  // (not while the consumer is busy writing, which is the disk's pace, not a stalled server). A plain iterator,
  // one `then` per chunk: an async generator here cost several times that on every chunk of every download.
  track<T>(body: AsyncIterable<T>): AsyncIterable<T> {
    this.waitingSince = undefined;
    const inner = body[Symbol.asyncIterator]();
    const arrived = (result: IteratorResult<T>): IteratorResult<T> => {
      if (this.waitingSince !== undefined) this.waited += this.clock.now() - this.waitingSince;
      this.waitingSince = undefined;
      const size = (result.value as { byteLength?: unknown } | undefined)?.byteLength;
      if (typeof size === 'number') this.received += size;
      if (result.done) {
        this.finished = true;
        this.disarm();
      }
      return result;
    };
    const iterator: AsyncIterableIterator<T> = {
      next: () => {
        this.waitingSince = this.clock.now();
        return inner.next().then(arrived);
      },
      return: (value?: unknown) => (inner.return ? inner.return(value) : Promise.resolve({ done: true, value: undefined })),
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  // Checks for a stall from now on (the run is stopping), one grace period at a time.
  arm(): void {
    if (this.finished || this.timer !== undefined) return;
    const since = this.waitingSince;
    const delay = since === undefined ? this.options.graceMs : Math.max(0, since + this.options.graceMs - this.clock.now());
    const from = { received: this.received, waited: this.waitedNow() };
    const timer = new AbortController();
    this.timer = timer;
    this.clock.sleep(delay, timer.signal).then(
      () => {
        if (this.timer !== timer) return;
        this.timer = undefined;
        if (this.finished) return;
        const waiting = this.waitingSince;
        const silent = waiting !== undefined && this.clock.now() - waiting >= this.options.graceMs;
        const trickle = this.received - from.received < TRICKLE_BYTES && this.waitedNow() - from.waited >= delay / 2 && delay > 0;
        if (silent) this.controller.abort(new Error(`no data for ${this.options.graceMs} ms while stopping: transfer cancelled`));
        else if (trickle) this.controller.abort(new Error(`under ${TRICKLE_BYTES} bytes in ${delay} ms while stopping: transfer cancelled`));
        else this.arm();
      },
      () => undefined, // disarmed
    );
  }

  // Time spent awaiting the network so far, including a wait under way.
  private waitedNow(): number {
    return this.waited + (this.waitingSince === undefined ? 0 : this.clock.now() - this.waitingSince);
  }

  end(): void {
    this.finished = true;
    this.disarm();
    this.options.cancel?.removeEventListener('abort', this.onCancel);
    this.onEnd();
  }

  private disarm(): void {
    this.timer?.abort();
    this.timer = undefined;
  }
}
