// How much history a channel has, estimated before it is walked and while it is: the run starts the channels with
// the most history first (lib/run-schedule.ts) and counts the pages left for its ETA (lib/run-estimates.ts).
//
// A channel object names its newest message (`last_message_id`), and a snowflake carries its creation time, so the
// time between the run's cursor (or the channel's own creation: its id is a snowflake too) and the newest message
// is known before the first page. Times are turned into messages by a density (messages per millisecond of
// snowflake time) learnt from the pages walked so far in the run. Threads say how many messages they hold
// (`message_count`, which leaves out the message that started the thread, and is approximate for threads older
// than 2022-07-01): docs/discord-api.md#history-size.

import { PAGE_SIZE } from './pages.js';
import { compareSnowflakes, isDiscordId, snowflakeOffset } from '../util/snowflake.js';

// What the channel object says about the size of its history.
export interface HistoryHint {
  newest?: string; // last_message_id
  messages?: number; // threads: message_count + 1 (the starter message)
  empty?: true; // last_message_id null: nothing was ever posted
}

// Before any page of the run says otherwise: one message every 10 minutes of a channel's life.
export const PRIOR_DENSITY = 1 / 600_000;

// The hint of a channel or thread entry (lib/discord/enumerate.ts), or undefined when it says nothing.
export function historyHint(entry: {
  last_message_id?: string | null | undefined;
  message_count?: number | undefined;
  is_thread?: boolean;
}): HistoryHint | undefined {
  if (entry.last_message_id === null) return { empty: true };
  const hint: HistoryHint = {};
  if (entry.last_message_id !== undefined && isDiscordId(entry.last_message_id)) hint.newest = entry.last_message_id;
  if (entry.is_thread === true && entry.message_count !== undefined) hint.messages = entry.message_count + 1;
  return hint.newest === undefined && hint.messages === undefined ? undefined : hint;
}

// The hint of a walk that stops at --before: its newest message is below the bound.
export function hintBefore(hint: HistoryHint | undefined, before: string | undefined): HistoryHint | undefined {
  if (hint?.newest === undefined || before === undefined || compareSnowflakes(hint.newest, before) < 0) return hint;
  const { messages: _, ...bounded } = hint; // a thread's count is of all of it
  return { ...bounded, newest: snowflakeOffset(before, -1) };
}

// Milliseconds since the Discord epoch that a snowflake was made at.
export function snowflakeMs(id: string): number {
  return Number(BigInt(id) >> 22n);
}

// The pages a channel's history is expected to take from `after` (the cursor, or '0'), `channelId` being the
// channel's own id (its creation time bounds its first message). 0 when the newest message is not beyond the
// cursor; undefined when nothing is known.
export function estimatePages(channelId: string, hint: HistoryHint | undefined, after: string, density: number): number | undefined {
  if (hint === undefined) return undefined;
  if (hint.empty === true) return 1; // the request that finds no message
  const start = after === '0' || !isDiscordId(after) ? channelId : compareSnowflakes(after, channelId) > 0 ? after : channelId;
  if (hint.newest !== undefined) {
    if (compareSnowflakes(hint.newest, after) <= 0) return 0;
    const spanMs = Math.max(0, snowflakeMs(hint.newest) - snowflakeMs(start));
    let messages = spanMs * density;
    if (hint.messages !== undefined) {
      // A thread counts its messages: the share of its life after the cursor holds its share of them.
      const lifeMs = Math.max(1, snowflakeMs(hint.newest) - snowflakeMs(channelId));
      messages = start === channelId ? hint.messages : (hint.messages * spanMs) / lifeMs;
    }
    return pagesFor(messages);
  }
  if (hint.messages !== undefined && start === channelId) return pagesFor(hint.messages);
  return undefined;
}

// Message-history requests for this many messages: full pages, one short page (or the empty one that ends the
// walk), and the request that asks for the newest message first (lib/discord/pages.ts).
export function pagesFor(messages: number): number {
  return Math.floor(Math.max(0, messages) / PAGE_SIZE) + 2;
}

// A channel's walk as it goes (lib/discord/pages.ts walks up from the cursor and down from the newest message):
// what it has covered, what is left, and how dense its history is.
export class HistoryProgress {
  pages = 0; // pages received
  messages = 0; // messages received
  private low: number; // ms: everything up to here is walked (the walk up)
  private high: number | undefined; // ms: everything from here up is walked (the walk down)
  private top: number | undefined; // ms of the newest message, when known
  private from: number; // ms the walk started from: the cursor, or (from the beginning) the first message
  private fromFirstMessage: boolean; // `from` is the channel's creation until the first page says when its history begins

  constructor(channelId: string, after: string, hint: HistoryHint | undefined) {
    const start = after === '0' || !isDiscordId(after) || compareSnowflakes(after, channelId) < 0 ? channelId : after;
    this.from = snowflakeMs(start);
    this.fromFirstMessage = start === channelId;
    this.low = this.from;
    if (hint?.newest !== undefined) this.top = snowflakeMs(hint.newest);
  }

  // One page of the walk: `messages` ascending when walked up, descending when walked down (`down` set).
  page(messages: ReadonlyArray<{ id: string }>, down: boolean): void {
    this.pages++;
    this.messages += messages.length;
    if (messages.length === 0) return;
    const first = snowflakeMs(messages[0]!.id);
    const last = snowflakeMs(messages[messages.length - 1]!.id);
    if (!down && this.fromFirstMessage) {
      // A channel created long before its first message: the time before it holds nothing, and is no measure of density.
      this.fromFirstMessage = false;
      this.from = Math.max(this.from, first);
    }
    if (down) {
      this.high = Math.min(this.high ?? first, last);
      this.top = Math.max(this.top ?? first, first);
    } else {
      this.low = Math.max(this.low, last);
      if (this.top === undefined || last > this.top) this.top = last;
    }
  }

  // The span the walk covers, ms: from its start (the cursor, or the first message) to the newest message (undefined
  // while unknown). The progress display measures the share of it that is done (lib/run-estimates.ts).
  get spanFromMs(): number {
    return this.from;
  }

  get spanToMs(): number | undefined {
    return this.top;
  }

  // Snowflake time walked so far, and time left between the two walks (0 when unknown).
  get coveredMs(): number {
    const top = this.top ?? this.low;
    return Math.max(0, this.low - this.from) + (this.high === undefined ? 0 : Math.max(0, top - this.high));
  }

  get leftMs(): number {
    const top = this.high ?? this.top;
    return top === undefined ? 0 : Math.max(0, top - this.low);
  }

  // Pages still to walk, from this channel's own density once it has one, else the run's.
  pagesLeft(runDensity: number): number {
    const density = this.messages >= PAGE_SIZE && this.coveredMs > 0 ? this.messages / this.coveredMs : runDensity;
    return this.leftMs === 0 ? 0 : pagesFor(this.leftMs * density) - 1;
  }
}
