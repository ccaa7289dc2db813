// --channel-concurrency auto: how many channels a run archives at once, from the limits rather than a fixed
// guess. One channel's history is paced per channel (about a page a second: docs/discord-api.md#hidden-sub-limits),
// the bot as a whole by the global limit (docs/discord-api.md#global-limit) and by its downloads. So channels keep
// starting while the measured request rate has headroom under the global limit, less a reserve for the requests
// downloads make (link refreshes) and thread listings, and while the download pool is not the bottleneck; none
// start while either is saturated; never more than the cap (--max-channel-concurrency).

import type { ChannelSlots } from './run-schedule.js';

// The share of the global limit left to requests other than message history.
export const RESERVE_SHARE = 0.1;
// A channel's history rate before any is measured: about a page a second (the hidden per-channel limit).
export const PRIOR_PAGES_PER_SECOND = 1;
// Channels started before any rate is measured. Each new channel's first requests come as a burst (its first
// pages go before its pace is known), so the rest are added as the measured rate shows room; a channel running
// also holds memory (pages, buffers), so a server of many small channels is not all opened at once.
export const INITIAL_CHANNELS = 16;
const TICK_MS = 500; // how often the limit is reconsidered
const WINDOW_MS = 1_000; // the request rate is measured over this much of the recent past
const SUSTAINED_MS = 2_000; // requests queued this long at the global limit are no burst

// What the limit is decided from, at one moment.
export interface SlotSample {
  running: number; // channels being archived
  rate: number | undefined; // API requests per second over the recent window (undefined: not measured yet)
  backlog: number; // requests waiting for the global limit now
  backlogSustained?: boolean; // ...and at every sample of the last 2 s
  pacePerSecond: number | undefined; // the learnt history pace of one channel, pages per second (undefined: none learnt)
  globalPerSecond: number; // the run's global limit
  downloadsSaturated: boolean; // files are waiting for download slots that cannot grow
  cap: number;
}

// The number of channels that may run, given a sample: the pure decision (tested on its own).
export function channelLimit(sample: SlotSample): number {
  const { running, rate, globalPerSecond, cap } = sample;
  const budget = globalPerSecond * (1 - RESERVE_SHARE);
  const clamp = (n: number): number => Math.max(1, Math.min(cap, Math.floor(n)));
  if (rate === undefined) return clamp(Math.min(INITIAL_CHANNELS, budget / PRIOR_PAGES_PER_SECOND));
  // Requests queue at the global limit for a moment (new channels' first bursts): none added, none refused.
  if (sample.backlog > 0 && sample.backlogSustained !== true) return clamp(running);
  // Over the budget: fewer than are running, in proportion, so channels that end are not all replaced.
  if (rate > budget) return clamp((running * budget) / rate);
  // Files wait for downloads that cannot grow, or requests keep queueing: none added.
  if (sample.backlog > 0 || sample.downloadsSaturated) return clamp(running);
  // Room: as many more as it holds at one channel's rate (its learnt pace, else the measured average), at most
  // doubling at a time.
  const measured = running > 0 ? Math.max(rate / running, PRIOR_PAGES_PER_SECOND / 4) : PRIOR_PAGES_PER_SECOND;
  const perChannel = sample.pacePerSecond ?? measured;
  return clamp(running + Math.min((budget - rate) / perChannel, Math.max(running, INITIAL_CHANNELS)));
}

export interface AutoSlotsOptions {
  cap: number;
  globalPerSecond: number;
  requests: () => number; // API requests started so far in the run (a counter)
  backlog: () => number; // requests waiting for the global limit now
  paceMs?: () => number; // the learnt spacing of one channel's history requests, ms (0: none learnt)
  downloadsSaturated: () => boolean;
  now?: () => number;
}

// The auto limit, reconsidered every TICK_MS (start() / close()); tick() drives it by hand in tests.
export class AutoSlots implements ChannelSlots {
  private limit: number;
  private running = 0;
  private readonly samples: Array<{ at: number; requests: number }> = [];
  private backlogSince: number | undefined; // when requests began to queue without a break
  private readonly listeners: Array<() => void> = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;

  constructor(private readonly options: AutoSlotsOptions) {
    this.now = options.now ?? Date.now;
    this.limit = channelLimit({
      running: 0,
      rate: undefined,
      backlog: 0,
      pacePerSecond: undefined,
      globalPerSecond: options.globalPerSecond,
      downloadsSaturated: false,
      cap: options.cap,
    });
  }

  allowed(running: number): number {
    this.running = running;
    return this.limit;
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  // The current limit (for the progress display).
  get current(): number {
    return this.limit;
  }

  start(): void {
    this.tick();
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
  }

  // Takes a sample of the request counter and decides the limit again.
  tick(at: number = this.now()): void {
    this.samples.push({ at, requests: this.options.requests() });
    while (this.samples.length > 2 && at - this.samples[1]!.at >= WINDOW_MS) this.samples.shift();
    const first = this.samples[0]!;
    const spanMs = at - first.at;
    const rate = spanMs >= TICK_MS ? ((this.options.requests() - first.requests) * 1000) / spanMs : undefined;
    const previous = this.limit;
    const paceMs = this.options.paceMs?.() ?? 0;
    const backlog = this.options.backlog();
    this.backlogSince = backlog > 0 ? (this.backlogSince ?? at) : undefined;
    this.limit = channelLimit({
      pacePerSecond: paceMs > 0 ? 1000 / paceMs : undefined,
      running: this.running,
      rate,
      backlog,
      backlogSustained: this.backlogSince !== undefined && at - this.backlogSince >= SUSTAINED_MS,
      globalPerSecond: this.options.globalPerSecond,
      downloadsSaturated: this.options.downloadsSaturated(),
      cap: this.options.cap,
    });
    if (this.limit > previous || rate === undefined) for (const listener of this.listeners) listener();
  }
}
