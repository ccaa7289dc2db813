// The human progress line on stderr: messages scanned, files saved, bytes, rate, and, once the run estimates
// them, its concurrency and ETA. Redrawn in place on a TTY.

import type { Writable } from 'node:stream';
import { estimateParts } from './estimate.js';
import type { RunEstimate } from './estimate.js';
import type { Counts } from './events.js';
import { terminalSafe } from './terminal-safe.js';

export interface ProgressOptions {
  estimate?: (() => RunEstimate | undefined) | undefined; // the run's estimate (concurrency, ETA), when it has one
  intervalMs?: number; // how often the line is redrawn [250]
  now?: () => number; // the clock of the rates [Date.now]
}

export class Progress {
  private timer: NodeJS.Timeout | undefined;
  private readonly started: number;
  private readonly estimate: (() => RunEstimate | undefined) | undefined;
  private readonly intervalMs: number;
  private readonly now: () => number;
  private drawn = false;

  constructor(
    private readonly stream: Writable,
    private readonly totals: () => Counts,
    options: ProgressOptions = {},
  ) {
    this.estimate = options.estimate;
    this.intervalMs = options.intervalMs ?? 250;
    this.now = options.now ?? Date.now;
    this.started = this.now();
  }

  start(): void {
    this.timer = setInterval(() => this.draw(), this.intervalMs);
    this.timer.unref();
  }

  // Clears the line so a log message can be printed cleanly, then redraws on the next tick.
  clear(): void {
    if (this.drawn) this.stream.write('\r\x1b[2K');
    this.drawn = false;
  }

  stop(): void {
    clearInterval(this.timer);
    this.draw();
    if (this.drawn) this.stream.write('\n');
    this.drawn = false;
  }

  // One line: "12,345 messages | 321 saved (4 dup) | 1 failed | 150.2 MB | 12.3 MB/s | 850 msg/s | 12 ch, 24 dl | ETA 3m 12s".
  line(): string {
    const t = this.totals();
    const estimate = this.estimate?.();
    const seconds = Math.max((this.now() - this.started) / 1000, 0.001);
    return [
      `${t.messages.toLocaleString('en-US')} messages`,
      `${t.saved.toLocaleString('en-US')} saved${t.duplicates ? ` (${t.duplicates} dup)` : ''}`,
      ...(t.failed ? [`${t.failed} failed`] : []),
      formatBytes(t.bytes),
      `${formatBytes(t.bytes / seconds)}/s`,
      `${Math.round(t.messages / seconds).toLocaleString('en-US')} msg/s`,
      ...(estimate ? estimateParts(estimate) : []),
    ].join(' | ');
  }

  private draw(): void {
    this.stream.write(`\r\x1b[2K${terminalSafe(this.line())}`);
    this.drawn = true;
  }
}

// 1234567 -> "1.2 MB" (decimal units, as --max-size's "MB").
export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}
