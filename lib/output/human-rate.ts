// The current rate of a run, as a person reads it: files and bytes per second over the last ~10 s, a sliding
// window of samples, not the average since the start (which hides a run that has slowed to a crawl an hour in).

export const RATE_WINDOW_MS = 10_000;

export interface Rate {
  filesPerSecond: number;
  bytesPerSecond: number;
}

interface Sample {
  at: number;
  files: number;
  bytes: number;
}

// Samples of two running totals; rate() is their growth over the window. Fed at every redraw, on an injected clock.
export class RateWindow {
  private samples: Sample[] = [];

  constructor(
    private readonly now: () => number = Date.now,
    private readonly windowMs = RATE_WINDOW_MS,
  ) {}

  // Records the totals now (files saved, bytes downloaded so far).
  sample(files: number, bytes: number): void {
    const at = this.now();
    this.samples.push({ at, files, bytes });
    // Keep one sample at or before the window's start, so the window is always ~windowMs wide once the run is.
    while (this.samples.length > 2 && this.samples[1]!.at <= at - this.windowMs) this.samples.shift();
  }

  // The rate over the window (or since the first sample, when the run is younger); undefined before two samples
  // a moment apart.
  rate(): Rate | undefined {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (first === undefined || last === undefined) return undefined;
    const ms = last.at - first.at;
    if (ms < 500) return undefined;
    return { filesPerSecond: ((last.files - first.files) * 1000) / ms, bytesPerSecond: ((last.bytes - first.bytes) * 1000) / ms };
  }
}
