// The source: a channel's messages in pages, walked from both ends (lib/discord/pages.ts), from its cursor to the
// newest message at start time.

import type { APIMessage } from 'discord-api-types/v10';
import type { DiscordClient } from '../discord/client.js';
import { channelHistory } from '../discord/pages.js';
import type { ChannelContext, ChannelPage, DoneSpan } from '../types.js';

export interface PaginateOptions {
  client: DiscordClient;
  after: string; // exclusive lower bound: the stored cursor, the --after bound, or '0'
  before?: string | undefined; // exclusive upper bound (--before)
  signal?: AbortSignal | undefined;
  doneAbove?: DoneSpan | undefined; // an interrupted run's finished span (ChannelRecord.done_above)
  onPage?: (messages: readonly APIMessage[], down: boolean) => void; // sees each page once (a missing intent, the run's estimates)
}

// Yields the channel's messages page by page, up to two pages in flight ahead of the consumer.
export async function* paginate(context: ChannelContext, options: PaginateOptions): AsyncGenerator<ChannelPage> {
  const pages = channelHistory(options.client, context.channel_id, {
    after: options.after,
    before: options.before,
    signal: options.signal,
    what: `channel ${context.channel_name ? `#${context.channel_name} ` : ''}(${context.channel_id})`,
    doneAbove: options.doneAbove,
  });
  for await (const page of pages) {
    if (page.messages.length > 0) options.onPage?.(page.messages, page.down !== undefined);
    options.signal?.throwIfAborted();
    yield { kind: 'page', context, messages: page.messages, down: page.down, cursor: page.cursor };
  }
}
