// One channel's history from a cursor up to a snapshot of its newest message, walked from both ends at once.
// Discord returns every page newest-first, even with `after` (docs/discord-api.md#page-order): each page is
// sorted here by numeric id. One walk goes up from the cursor (`after` = the page's maximum id), another down
// from the snapshot (`before` = the page's minimum id); each page keeps only the messages neither walk has
// claimed yet, and the walks stop where they meet. A channel's messages are then fetched two requests at a
// time where the rate limit allows it, which halves the walk when it is bound by round trips, not by the
// limit; under a per-channel limit both walks share the channel's pace. The walk stops at the snapshot taken
// before the first page, so messages posted during the run wait for the next run
// (docs/discord-api.md#page-size-and-the-end-of-history).

import type { APIMessage } from 'discord-api-types/v10';
import type { DoneSpan } from '../types.js';
import type { DiscordClient } from './client.js';
import { linkController } from '../util/link-signals.js';
import { compareSnowflakes, isDiscordId, snowflakeOffset } from '../util/snowflake.js';

export const PAGE_SIZE = 100;

export interface HistoryOptions {
  after: string; // exclusive lower bound (cursor or --after); '0' for the beginning
  before?: string | undefined; // exclusive upper bound (--before)
  signal?: AbortSignal | undefined;
  what?: string; // for error messages
  // Messages an earlier, interrupted run walked newest-first and finished (from..to, inclusive): the gap
  // (after, from) is walked first, then (to, snapshot].
  doneAbove?: DoneSpan | undefined;
}

export interface HistoryPage {
  // The messages of one page that no other page claimed, all within (after, snapshot]: ascending when walked
  // up, descending when walked down (`down` set), so that when a message is done, so is everything walked
  // before it in its direction.
  messages: APIMessage[];
  // Walked down: every message from this page's last (lowest) one up to `down` is claimed once it is done.
  down?: string;
  // An empty page closing a span: both walks met, so every message <= cursor has been walked.
  cursor?: string;
}

// The newest message id of a channel right now, or undefined when the channel shows no messages.
export async function newestMessageId(client: DiscordClient, channelId: string, options: HistoryOptions): Promise<string | undefined> {
  const query: Record<string, string> = { limit: '1' };
  if (options.before !== undefined) query.before = options.before;
  const page = await client.get<APIMessage[]>(`/channels/${channelId}/messages`, {
    query,
    signal: options.signal,
    what: options.what ?? `channel ${channelId}`,
  });
  if (!Array.isArray(page)) return undefined;
  let newest: string | undefined;
  for (const message of page) if (newest === undefined || compareSnowflakes(message.id, newest) > 0) newest = message.id;
  return newest;
}

// Pages of one channel from `after` to the snapshot: the gap below an earlier run's finished span first (see
// doneAbove), then everything above it.
export async function* channelHistory(client: DiscordClient, channelId: string, options: HistoryOptions): AsyncGenerator<HistoryPage> {
  const what = options.what ?? `channel ${channelId}`;
  const upper = await newestMessageId(client, channelId, options);
  if (upper === undefined) return;
  // Under a learnt (or --polite) pace a second walk gains nothing, and it would keep the channel's requests at
  // the edge of the limit, where a little jitter is a 429: then the walk down stops and the walk up finishes.
  const twoAtOnce = (): boolean => client.intervalOf(`/channels/${channelId}/messages`) === 0;
  // One span's walks; a request still pending when they end (the walks met, or the consumer stopped) is
  // abandoned: aborted, so it neither costs a request nor retries on after the channel is done.
  async function* span(lo: string, hi: string, top: string): AsyncGenerator<HistoryPage> {
    const abandon = linkController(options.signal);
    const { signal } = abandon;
    // A prefetched page can fail (an abort while it waits for its rate-limit slot) while the consumer still
    // holds the previous page: mark it handled at once so that is no unhandled rejection; `await` still throws.
    const fetchPage = (query: Record<string, string>): Promise<APIMessage[]> => {
      const page = client.get<APIMessage[]>(`/channels/${channelId}/messages`, { query: { ...query, limit: String(PAGE_SIZE) }, signal, what });
      page.catch(() => undefined);
      return page;
    };
    try {
      yield* walkSpan(fetchPage, lo, hi, top, twoAtOnce);
    } finally {
      abandon.controller.abort();
      abandon.unlink();
    }
  }
  let after = options.after;
  const done = options.doneAbove;
  if (done !== undefined && compareSnowflakes(done.to, after) > 0) {
    if (compareSnowflakes(done.from, after) > 0) yield* span(after, done.from, done.to);
    after = done.to;
  }
  if (compareSnowflakes(upper, after) <= 0) return;
  yield* span(after, snowflakeOffset(upper, 1), upper);
}

type FetchPage = (query: Record<string, string>) => Promise<APIMessage[]>;

interface Walk {
  down: boolean;
  page: Promise<APIMessage[]>;
  ready: boolean; // its page has arrived
}

function startWalk(down: boolean, page: Promise<APIMessage[]>): Walk {
  const walk: Walk = { down, page, ready: false };
  const ready = (): void => {
    walk.ready = true;
  };
  page.then(ready, ready);
  return walk;
}

// Every message in (lo, hi), exclusive bounds, once: up from lo and, once a first full page shows there is more
// than a page of it, down from hi (while `twoAtOnce` says so). Ends with an empty page whose cursor is `top`:
// everything <= top is walked.
async function* walkSpan(fetchPage: FetchPage, lo: string, hi: string, top: string, twoAtOnce: () => boolean): AsyncGenerator<HistoryPage> {
  let up: Walk | undefined = startWalk(false, fetchPage({ after: lo }));
  let down: Walk | undefined;
  let downStarted = false;
  let covered = false;
  let lastDown = true;
  try {
    while (up !== undefined || down !== undefined) {
      const walk = await nextWalk(up, down, lastDown);
      lastDown = walk.down;
      const raw = await walk.page;
      const page = (Array.isArray(raw) ? raw : []).filter(isMessageLike);
      page.sort((a, b) => compareSnowflakes(a.id, b.id));
      const claimed = page.filter((m) => compareSnowflakes(m.id, lo) > 0 && compareSnowflakes(m.id, hi) < 0);
      // A short page holds everything left on its side, so the span is covered; so is a page that reaches the
      // other walk's bound. A page that does not move (a server ignoring the bound) ends only its own walk.
      let moved = false;
      if (!walk.down) {
        const newest = page[page.length - 1]?.id ?? lo;
        covered = raw.length < PAGE_SIZE || compareSnowflakes(snowflakeOffset(newest, 1), hi) >= 0;
        moved = !covered && compareSnowflakes(newest, lo) > 0;
        if (moved) lo = newest;
        up = moved ? startWalk(false, fetchPage({ after: lo })) : undefined;
        if (moved && !downStarted && twoAtOnce()) {
          downStarted = true;
          down = startWalk(true, fetchPage({ before: hi }));
        }
      } else {
        const oldest = page[0]?.id ?? hi;
        covered = raw.length < PAGE_SIZE || compareSnowflakes(oldest, snowflakeOffset(lo, 1)) <= 0;
        moved = !covered && compareSnowflakes(oldest, hi) < 0;
        if (moved) hi = oldest;
        down = moved && twoAtOnce() ? startWalk(true, fetchPage({ before: hi })) : undefined;
      }
      if (covered) up = down = undefined;
      if (claimed.length > 0) yield walk.down ? { messages: claimed.reverse(), down: top } : { messages: claimed };
      if (covered) break;
    }
  } finally {
    // An abandoned request (the walks met, or the consumer stopped) must not surface as an unhandled rejection.
    up?.page.catch(() => undefined);
    down?.page.catch(() => undefined);
  }
  if (covered) yield { messages: [], cursor: top };
}

// The walk whose page to take next: the first to answer, and when both have, the one not taken last time (a
// consumer slower than the server would otherwise only ever see the walk up).
async function nextWalk(up: Walk | undefined, down: Walk | undefined, lastDown: boolean): Promise<Walk> {
  if (up === undefined || down === undefined) return (up ?? down)!;
  if (up.ready && down.ready) return lastDown ? up : down;
  if (up.ready || down.ready) return up.ready ? up : down;
  return Promise.race([
    up.page.then(
      () => up,
      () => up,
    ),
    down.page.then(
      () => down,
      () => down,
    ),
  ]);
}

// Keeps message objects with a valid id (the history path has already refused a page with anything else, see
// validate.ts; this guards callers that hand in pages from elsewhere).
function isMessageLike(value: unknown): value is APIMessage {
  return isDiscordId((value as { id?: unknown } | null)?.id);
}
