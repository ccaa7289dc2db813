// One channel's history from a cursor up to a snapshot of its newest message, oldest -> newest.
// Discord returns every page newest-first, even with `after` (discord-api.md §1, trap 1): each page is
// sorted here by numeric id, the next `after` is the page's maximum id, and the walk stops at the snapshot
// taken before the first page so messages posted during the run wait for the next run (trap 2).

import type { APIMessage } from 'discord-api-types/v10';
import type { DiscordClient } from './client.js';
import { compareSnowflakes } from './snowflake.js';

export const PAGE_SIZE = 100;

export interface HistoryOptions {
  after: string; // exclusive lower bound (cursor or --after); '0' for the beginning
  before?: string | undefined; // exclusive upper bound (--before)
  signal?: AbortSignal | undefined;
  what?: string; // for error messages
  prefetch?: boolean; // request page n+1 while page n is being consumed (default true)
}

export interface HistoryPage {
  messages: APIMessage[]; // ascending ids, all within (after, upper]
  upper: string; // the snapshot bound this walk stops at
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

// Pages of one channel, ascending, from `after` to the snapshot.
export async function* channelHistory(client: DiscordClient, channelId: string, options: HistoryOptions): AsyncGenerator<HistoryPage> {
  const what = options.what ?? `channel ${channelId}`;
  const upper = await newestMessageId(client, channelId, options);
  if (upper === undefined || compareSnowflakes(upper, options.after) <= 0) return;

  // A prefetched page can fail (an abort while it waits for its rate-limit slot) while the consumer still holds
  // the previous page: mark it handled at once so that is no unhandled rejection; `await pending` still throws.
  const fetchPage = (after: string): Promise<APIMessage[]> => {
    const page = client.get<APIMessage[]>(`/channels/${channelId}/messages`, {
      query: { after, limit: String(PAGE_SIZE) },
      signal: options.signal,
      what,
    });
    page.catch(() => undefined);
    return page;
  };

  let after = options.after;
  let pending: Promise<APIMessage[]> | undefined = fetchPage(after);
  try {
    while (pending) {
      const raw = await pending;
      pending = undefined;
      const page = (Array.isArray(raw) ? raw : []).filter(isMessageLike);
      if (page.length === 0) return;
      page.sort((a, b) => compareSnowflakes(a.id, b.id));
      const newest = page[page.length - 1]!.id;
      const inRange = page.filter((m) => compareSnowflakes(m.id, after) > 0 && compareSnowflakes(m.id, upper) <= 0);
      // A short page is the end of the channel; reaching the snapshot is the end of this run.
      const done = raw.length < PAGE_SIZE || compareSnowflakes(newest, upper) >= 0 || compareSnowflakes(newest, after) <= 0;
      after = newest;
      if (!done && options.prefetch !== false) pending = fetchPage(after);
      if (inRange.length > 0) yield { messages: inRange, upper };
      if (done) return;
      if (!pending) pending = fetchPage(after);
    }
  } finally {
    // An abandoned prefetch must not surface as an unhandled rejection.
    pending?.catch(() => undefined);
  }
}

// Drops entries that are not message objects (malformed API data must not crash the run).
function isMessageLike(value: unknown): value is APIMessage {
  const id = (value as { id?: unknown } | null)?.id;
  return typeof id === 'string' && /^\d+$/.test(id);
}
