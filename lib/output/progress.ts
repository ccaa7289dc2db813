// The progress display on stderr. On a terminal (Progress): a block of a few lines redrawn in place every 250 ms,
// how far (channels done, each running channel's share and ETA), how fast (the rate over the last ~10 s) and how
// long (elapsed, ETA, the current rate-limit wait); it fits the terminal's width and height, read again at every
// draw and on 'resize', so it never wraps and never leaves a copy of itself behind. Lines printed while it runs
// go above it (above()). Elsewhere (ProgressLines: cron, systemd): one plain line every --progress-interval.
// What the lines say is lib/output/human-progress.ts.

import type { Writable } from 'node:stream';
import type { RunEstimate } from './estimate.js';
import type { Counts } from './events.js';
import { progressLine, renderBlock } from './human-progress.js';
import type { ProgressState } from './human-progress.js';
import { RateWindow } from './human-rate.js';
import { displayWidth } from './human-width.js';

export { formatBytes } from './human-progress.js';

// The longest delay a Node timer holds (2^31 - 1 ms, about 24.8 days); a longer one fires after 1 ms.
const MAX_TIMER_MS = 2_147_483_647;

// Timers, injected by tests.
export interface Timers {
  setInterval(run: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

const systemTimers: Timers = {
  setInterval: (run, ms) => setInterval(run, ms).unref(),
  clearInterval: (handle) => clearInterval(handle as NodeJS.Timeout),
};

export interface ProgressOptions {
  estimate?: (() => RunEstimate | undefined) | undefined; // the run's estimate (channels, ETA, wait), when it has one
  nameOf?: ((channelId: string) => string | undefined) | undefined; // a channel's name as the display shows it
  intervalMs?: number; // how often it is redrawn (or, for ProgressLines, printed) [250]
  now?: () => number; // the clock of the rates and the elapsed time [Date.now]
  timers?: Timers;
}

// A terminal's size as a tty.WriteStream tells it (undefined on other streams).
type Sized = Writable & { columns?: number; rows?: number };

// What both displays read: the state of the run now, and its rate window.
abstract class ProgressSource {
  protected readonly started: number;
  protected readonly now: () => number;
  protected readonly timers: Timers;
  protected readonly intervalMs: number;
  private readonly rates: RateWindow;
  private timer: unknown;

  constructor(
    protected readonly stream: Writable,
    private readonly totals: () => Counts,
    private readonly options: ProgressOptions,
    defaultIntervalMs: number,
  ) {
    this.now = options.now ?? Date.now;
    this.timers = options.timers ?? systemTimers;
    this.intervalMs = Math.min(options.intervalMs ?? defaultIntervalMs, MAX_TIMER_MS);
    this.started = this.now();
    this.rates = new RateWindow(this.now);
  }

  start(): void {
    this.timer = this.timers.setInterval(() => this.tick(), this.intervalMs);
  }

  protected stopTimer(): void {
    if (this.timer !== undefined) this.timers.clearInterval(this.timer);
    this.timer = undefined;
  }

  protected abstract tick(): void;

  // The run now (sampling the rate window).
  protected state(final = false): ProgressState {
    const totals = this.totals();
    this.rates.sample(totals.saved, totals.bytes);
    let estimate: RunEstimate | undefined;
    try {
      estimate = this.options.estimate?.();
    } catch {
      estimate = undefined; // an estimate never stops the display
    }
    const now = this.now();
    return { elapsedMs: now - this.started, totals, rate: this.rates.rate(), estimate, now, nameOf: this.options.nameOf, final };
  }
}

// The live block on a terminal.
export class Progress extends ProgressSource {
  private drawn: number[] = []; // the widths of the lines on screen, top to bottom
  private drawnColumns = 0;
  private running = false;
  private readonly onResize = (): void => this.redraw();

  constructor(stream: Writable, totals: () => Counts, options: ProgressOptions = {}) {
    super(stream, totals, options, 250);
  }

  override start(): void {
    this.running = true;
    super.start();
    this.stream.on('resize', this.onResize);
    this.redraw();
  }

  // Prints something above the block: the block is erased, `write` prints (whole lines, on this stream or on
  // another one showing on the same terminal), and the block is drawn again below.
  above(write: () => void): void {
    if (this.drawn.length > 0) this.stream.write(this.erase());
    this.drawn = [];
    write();
    if (this.running) this.redraw();
  }

  // Erases the block; the next tick draws it again.
  clear(): void {
    if (this.drawn.length > 0) this.stream.write(this.erase());
    this.drawn = [];
  }

  // Draws the final block (100% and the totals when the run completed) and leaves it on screen, once.
  stop(): void {
    this.running = false;
    this.stopTimer();
    this.stream.off('resize', this.onResize);
    this.redraw(true);
    if (this.drawn.length > 0) this.stream.write('\n');
    this.drawn = [];
  }

  // The block as it would be drawn now on the stream's terminal.
  lines(final = false): string[] {
    const { columns, rows } = this.size();
    return renderBlock(this.state(final), columns, rows);
  }

  protected tick(): void {
    this.redraw();
  }

  private redraw(final = false): void {
    const lines = this.lines(final);
    const frame = `${this.drawn.length > 0 ? this.erase() : ''}${lines.join('\n')}`;
    this.drawn = lines.map((line) => displayWidth(line));
    this.drawnColumns = this.size().columns;
    this.stream.write(frame);
  }

  // Back to the block's first line and clear to the end of the screen. After a resize, a terminal that reflows
  // has wrapped the old lines onto more rows: move up over those too.
  private erase(): string {
    const columns = this.size().columns;
    const rows = this.drawn.reduce((sum, width) => sum + (columns < this.drawnColumns ? Math.max(1, Math.ceil(width / columns)) : 1), 0);
    return `\r${rows > 1 ? `\x1b[${rows - 1}A` : ''}\x1b[J`;
  }

  private size(): { columns: number; rows: number } {
    const sized = this.stream as Sized;
    return { columns: positive(sized.columns) ?? 80, rows: positive(sized.rows) ?? 24 };
  }
}

// One plain line every interval, for a stderr that is not a terminal (a log file, the journal).
export class ProgressLines extends ProgressSource {
  constructor(stream: Writable, totals: () => Counts, options: ProgressOptions = {}) {
    super(stream, totals, options, 60_000);
  }

  stop(): void {
    this.stopTimer();
  }

  line(): string {
    return progressLine(this.state());
  }

  protected tick(): void {
    this.stream.write(`${this.line()}\n`);
  }
}

function positive(n: number | undefined): number | undefined {
  return n !== undefined && Number.isFinite(n) && n > 0 ? Math.floor(n) : undefined;
}
