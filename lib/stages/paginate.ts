// Stage 1: a channel's messages, oldest -> newest in pages, from its cursor to the newest message at start time.

import type { APIMessage } from 'discord-api-types/v10';
import type { DiscordClient } from '../discord/client.js';
import { channelHistory } from '../discord/pages.js';
import type { ChannelContext, ChannelPage } from '../types.js';

export interface PaginateOptions {
  client: DiscordClient;
  after: string; // exclusive lower bound: the stored cursor, the --after bound, or '0'
  before?: string | undefined; // exclusive upper bound (--before)
  signal?: AbortSignal | undefined;
  prefetch?: boolean;
  onPage?: (messages: readonly APIMessage[]) => void; // sees each page once (e.g. to notice a missing intent)
}

// Yields the channel's messages page by page in ascending id order, one page in flight ahead of the consumer.
export async function* paginate(context: ChannelContext, options: PaginateOptions): AsyncGenerator<ChannelPage> {
  const pages = channelHistory(options.client, context.channel_id, {
    after: options.after,
    before: options.before,
    signal: options.signal,
    what: `channel ${context.channel_name ? `#${context.channel_name} ` : ''}(${context.channel_id})`,
    prefetch: options.prefetch ?? true,
  });
  for await (const page of pages) {
    options.onPage?.(page.messages);
    options.signal?.throwIfAborted();
    yield { kind: 'page', context, messages: page.messages };
  }
}
