// What is left of a run, and how fast it can go: the pages each channel still has to walk (estimated before it
// starts from the channel object, lib/discord/history-size.ts, then from its own walk), the rates they are walked
// at, and from those the ETA shown by the progress display and progress.json, and the floor the summary reports:
// no schedule can finish a server faster than max(its largest channel's pages / the per-channel rate, all its
// pages / the global rate).

import { HistoryProgress, PRIOR_DENSITY, estimatePages, pagesFor, snowflakeMs } from './discord/history-size.js';
import type { HistoryHint } from './discord/history-size.js';
import { PRIOR_PAGES_PER_SECOND } from './run-slots.js';
import type { ChannelProgress, CurrentWait } from './output/estimate.js';
import type { ItemResult } from './types.js';

// How long an ended channel stays in the display's list (at 100%, or where it stopped).
const RECENT_MS = 5_000;

// A file as the estimates know it.
interface FileRef {
  context: { channel_id: string };
  message_id: string;
  attachment_id: string;
}

interface ChannelEstimate {
  id: string;
  expected: number | undefined; // estimated pages before its walk started
  walk?: HistoryProgress;
  startedAt?: number;
  endedAt?: number | undefined;
  walked?: true; // its walk reached the newest message (walked())
  doneUp?: number; // ms: the walk up has processed (downloads included) everything up to here
  doneDown?: number; // ms: the walk down has processed everything from here up
  percent?: number; // the share of its span shown last: never shown lower
}

// The estimates the progress display and progress.json show (lib/output/estimate.ts has the same fields).
export interface HistoryEstimate {
  eta_ms?: number;
  pages_left: number;
  channels_left: number;
  channels_running: number;
  // For the live display: each running (and lately ended) channel's share walked and ETA, the channels ended and
  // known, the run's share walked, and the rate-limit wait requests are in.
  channels?: ChannelProgress[];
  channels_done?: number;
  channels_total?: number;
  percent?: number;
  wait?: CurrentWait | undefined;
}

// The makespan bound of the run's history walk, in ms, and its two terms.
export interface FloorEstimate {
  floor_ms: number;
  largest_channel_ms: number; // the largest channel's pages at the per-channel rate
  all_pages_ms: number; // every page at the global rate
}

export interface EstimatorOptions {
  globalPerSecond: number;
  // The learnt spacing of a channel's history requests, ms (0: none learnt): the per-channel rate (DiscordClient.intervalOf).
  paceMs: (channelId: string) => number;
  now?: () => number;
  wait?: (() => CurrentWait | undefined) | undefined; // the rate-limit wait requests are in now (DiscordClient.rateLimitWait)
}

export class RunEstimator {
  private readonly channels = new Map<string, ChannelEstimate>();
  private readonly now: () => number;
  // Files handed to the downloads and not settled yet, by channel, then by message and attachment id: their
  // declared size. A channel that ends (or fails) drops what it still had.
  private readonly pending = new Map<string, Map<string, number>>();
  private pendingBytes = 0;
  private queuedBytes = 0; // declared bytes of every file handed to the downloads so far
  private downloadedBytes = 0; // of those, the bytes of files saved
  private firstQueuedAt: number | undefined;
  private sizingDensity: { at: number; value: number } | undefined; // the density expect() uses
  private shownPercent = 0; // the run's share walked, as last shown: never shown lower

  constructor(private readonly options: EstimatorOptions) {
    this.now = options.now ?? Date.now;
  }

  // Messages per ms of snowflake time, over every page walked in the run (PRIOR_DENSITY before any).
  density(): number {
    let messages = 0;
    let ms = 0;
    for (const channel of this.channels.values()) {
      if (channel.walk === undefined || channel.walk.coveredMs === 0) continue;
      messages += channel.walk.messages;
      ms += channel.walk.coveredMs;
    }
    return messages >= 100 && ms > 0 ? messages / ms : PRIOR_DENSITY;
  }

  // A channel waiting to start: its estimated pages from `after` (undefined: unknown). The density is computed
  // again at most once a second here: a server's thousands of threads are sized one after another.
  expect(channelId: string, hint: HistoryHint | undefined, after: string): number | undefined {
    const now = this.now();
    if (this.sizingDensity === undefined || now - this.sizingDensity.at >= 1000) this.sizingDensity = { at: now, value: this.density() };
    const expected = estimatePages(channelId, hint, after, this.sizingDensity.value);
    const known = this.channels.get(channelId);
    if (known === undefined) this.channels.set(channelId, { id: channelId, expected });
    else known.expected ??= expected;
    return expected;
  }

  // The pages a channel was expected to have before its walk (0 when unknown): its place in the queue.
  expected(channelId: string): number {
    return this.channels.get(channelId)?.expected ?? 0;
  }

  // Its history walk starts: the pages it yields are counted by the returned progress.
  walk(channelId: string, hint: HistoryHint | undefined, after: string): HistoryProgress {
    const channel = this.channels.get(channelId) ?? { id: channelId, expected: undefined };
    this.channels.set(channelId, channel);
    channel.walk = new HistoryProgress(channelId, after, hint);
    channel.startedAt = this.now();
    channel.endedAt = undefined;
    return channel.walk;
  }

  // Its walk ended (or it was not walked: a retry pass only, a channel that failed).
  finish(channelId: string): void {
    const channel = this.channels.get(channelId);
    if (channel !== undefined) channel.endedAt ??= this.now();
    for (const bytes of this.pending.get(channelId)?.values() ?? []) this.pendingBytes -= bytes;
    this.pending.delete(channelId);
  }

  // One result of a channel's downloads, in walk order (a file's outcome, or a mark for messages without files):
  // its message is done, and with it everything before it in its walk.
  processed(result: ItemResult): void {
    const unit = result.kind === 'mark' ? result : result.item;
    const channel = this.channels.get(unit.context.channel_id);
    if (channel?.walk === undefined || channel.endedAt !== undefined) return;
    const at = snowflakeMs(unit.message_id);
    if (unit.down === undefined) channel.doneUp = Math.max(channel.doneUp ?? at, at);
    else channel.doneDown = Math.min(channel.doneDown ?? at, at);
  }

  // Its walk reached the newest message: at its end it shows 100%.
  walked(channelId: string): void {
    const channel = this.channels.get(channelId);
    if (channel !== undefined) channel.walked = true;
  }

  // Pages per second one channel is walked at: the learnt pace when there is one (it belongs to the bucket, so it
  // is the same for every channel), else the best rate measured on any channel; computed once per estimate.
  // `minPages`: the fewest pages a walk needs for its rate to count. For the floor, no prior: without a learnt
  // pace, the fastest walk measured (so the floor is never above any channel's own walk); Infinity when none.
  private perChannelRate(minPages = 5, prior = PRIOR_PAGES_PER_SECOND): number {
    const first = this.channels.keys().next();
    const pace = first.done === true ? 0 : this.options.paceMs(first.value);
    if (pace > 0) return 1000 / pace;
    let best = 0;
    for (const channel of this.channels.values()) best = Math.max(best, this.measuredRate(channel, minPages) ?? 0);
    return best > 0 ? best : prior;
  }

  private measuredRate(channel: ChannelEstimate, minPages: number): number | undefined {
    if (channel.walk === undefined || channel.startedAt === undefined || channel.walk.pages < minPages) return undefined;
    const ms = (channel.endedAt ?? this.now()) - channel.startedAt;
    return ms > 0 ? ((channel.walk.pages + 1) * 1000) / ms : undefined; // its pages and the request for the newest message
  }

  private pagesLeft(channel: ChannelEstimate, density: number): number {
    if (channel.endedAt !== undefined) return 0;
    if (channel.walk !== undefined) return channel.walk.pagesLeft(density);
    return channel.expected ?? pagesFor(0); // unknown: counted as the least a channel takes
  }

  // A file goes to the downloads (its declared size; 0 when unknown).
  queued(item: FileRef & { size?: number | undefined }): void {
    const bytes = item.size ?? 0;
    let files = this.pending.get(item.context.channel_id);
    if (files === undefined) {
      files = new Map();
      this.pending.set(item.context.channel_id, files);
    }
    const key = `${item.message_id}:${item.attachment_id}`;
    this.pendingBytes += bytes - (files.get(key) ?? 0);
    files.set(key, bytes);
    this.queuedBytes += bytes;
    this.firstQueuedAt ??= this.now();
  }

  // A file the downloads are done with: saved (`downloaded`), failed or skipped.
  settled(item: FileRef, downloaded: boolean): void {
    const files = this.pending.get(item.context.channel_id);
    const key = `${item.message_id}:${item.attachment_id}`;
    const bytes = files?.get(key);
    if (files === undefined || bytes === undefined) return;
    files.delete(key);
    this.pendingBytes -= bytes;
    if (downloaded) this.downloadedBytes += bytes;
  }

  // How long the downloads need for the files waiting and for those the pages left will bring (at the bytes per
  // page seen so far), at the run's download throughput so far; undefined before anything is measured.
  private downloadsMs(pagesLeft: number): number | undefined {
    if (this.firstQueuedAt === undefined || this.downloadedBytes === 0) return undefined;
    const elapsed = this.now() - this.firstQueuedAt;
    if (elapsed <= 0) return undefined;
    let pages = 0;
    for (const channel of this.channels.values()) pages += channel.walk?.pages ?? 0;
    const future = pages > 0 ? (this.queuedBytes / pages) * pagesLeft : 0;
    return ((this.pendingBytes + future) * elapsed) / this.downloadedBytes;
  }

  // Pages left, channels left, and when the run should end at the current rates: its history walk, or its
  // downloads when they are the slower.
  estimate(): HistoryEstimate {
    const density = this.density();
    const perChannel = this.perChannelRate();
    let pages = 0;
    let longestMs = 0;
    let left = 0;
    let running = 0;
    for (const channel of this.channels.values()) {
      if (channel.endedAt !== undefined) continue;
      left++;
      if (channel.walk !== undefined) running++;
      const channelPages = this.pagesLeft(channel, density);
      pages += channelPages;
      longestMs = Math.max(longestMs, (channelPages * 1000) / perChannel);
    }
    const result: HistoryEstimate = { pages_left: Math.round(pages), channels_left: left, channels_running: running };
    result.eta_ms = Math.round(Math.max(longestMs, (pages * 1000) / this.options.globalPerSecond, this.downloadsMs(pages) ?? 0));
    Object.assign(result, this.display(density));
    return result;
  }

  // What the live display shows of the walks: each running (or lately ended) channel's share and ETA, in the order
  // they started, the channels ended and known, the run's share (channels weighted by their pages), the wait.
  private display(density: number): Pick<HistoryEstimate, 'channels' | 'channels_done' | 'channels_total' | 'percent' | 'wait'> {
    const now = this.now();
    const shown: Array<ChannelProgress & { at: number }> = [];
    let done = 0;
    let weights = 0;
    let walkedWeight = 0;
    let complete = true;
    for (const channel of this.channels.values()) {
      const share = this.channelShare(channel) / 100;
      const weight = Math.max(pagesFor(0), channel.expected ?? 0, channel.walk === undefined ? 0 : channel.walk.pages + channel.walk.pagesLeft(density));
      const finished = channel.endedAt !== undefined && (channel.walked === true || channel.walk === undefined);
      weights += weight;
      walkedWeight += weight * (finished ? 1 : share);
      if (!finished) complete = false;
      if (channel.endedAt !== undefined) done++;
      if (channel.walk === undefined || channel.startedAt === undefined) continue;
      if (channel.endedAt !== undefined && now - channel.endedAt > RECENT_MS) continue;
      shown.push({ ...this.channelProgress(channel, share, now), at: channel.startedAt });
    }
    shown.sort((a, b) => a.at - b.at);
    const result: Pick<HistoryEstimate, 'channels' | 'channels_done' | 'channels_total' | 'percent' | 'wait'> = {
      channels: shown.map(({ at: _, ...channel }) => channel),
      channels_done: done,
      channels_total: this.channels.size,
    };
    if (weights > 0) {
      this.shownPercent = complete ? 100 : Math.min(99, Math.max(this.shownPercent, Math.floor((walkedWeight * 100) / weights)));
      result.percent = this.shownPercent;
    }
    const wait = this.options.wait?.();
    if (wait !== undefined && wait.until > now) result.wait = wait;
    return result;
  }

  // A channel's share of its snowflake span done (walked, and its files downloaded), 0..100: 100 once its walk ended at the newest message, at most
  // 99 before, never lower than shown before (the span's start moves up to its first message after the first page).
  private channelShare(channel: ChannelEstimate): number {
    if (channel.walk === undefined) return 0;
    if (channel.endedAt !== undefined && channel.walked === true) return 100;
    const share = Math.floor(doneShare(channel, channel.walk) * 100);
    const held = channel.endedAt !== undefined ? (channel.percent ?? share) : Math.min(99, Math.max(channel.percent ?? 0, share));
    channel.percent = held;
    return held;
  }

  // The display's entry of a started channel: its share, and the time left at the pace its share grew so far.
  private channelProgress(channel: ChannelEstimate, share: number, now: number): ChannelProgress {
    const entry: ChannelProgress = { id: channel.id, percent: Math.round(share * 100), state: 'running' };
    if (channel.endedAt !== undefined) {
      entry.state = channel.walked === true ? 'done' : 'stopped';
      entry.ended_ms_ago = now - channel.endedAt;
    } else if (share > 0 && channel.startedAt !== undefined) {
      entry.eta_ms = Math.round(((now - channel.startedAt) * (1 - share)) / share);
    }
    return entry;
  }

  // The makespan bound of what this run walked (its pages, counted as it went), at the per-channel rate and the
  // global rate; undefined when it walked nothing.
  floor(): FloorEstimate | undefined {
    let all = 0;
    let largestMs = 0;
    const perChannel = this.perChannelRate(1, Number.POSITIVE_INFINITY);
    for (const channel of this.channels.values()) {
      if (channel.walk === undefined || channel.walk.pages === 0) continue;
      const pages = channel.walk.pages + 1; // and the request for the newest message
      all += pages;
      largestMs = Math.max(largestMs, (pages * 1000) / perChannel);
    }
    if (all === 0) return undefined;
    const allMs = (all * 1000) / this.options.globalPerSecond;
    return { floor_ms: Math.round(Math.max(largestMs, allMs)), largest_channel_ms: Math.round(largestMs), all_pages_ms: Math.round(allMs) };
  }
}

// The share of a walk's span (cursor .. newest message) whose messages are done, files included: up to where the
// walk up is done, and down to where the walk down is done. 0 while the newest message is unknown.
function doneShare(channel: ChannelEstimate, walk: HistoryProgress): number {
  const from = walk.spanFromMs;
  const to = walk.spanToMs;
  if (to === undefined || to <= from) return 0;
  const up = channel.doneUp === undefined ? 0 : Math.max(0, channel.doneUp - from);
  const down = channel.doneDown === undefined ? 0 : Math.max(0, to - channel.doneDown);
  return Math.min(1, (up + down) / (to - from));
}
