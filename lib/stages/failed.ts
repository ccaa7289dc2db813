// Source stage for the retry pass: the items recorded as failed in earlier runs of a channel, with their
// signed links refreshed in batches of up to 50 before anything is downloaded (docs/discord-api.md#refreshing-links).

import type { UrlRefresher } from '../discord/refresh.js';
import type { Store } from '../store/store.js';
import type { AttachmentRecord, ChannelContext, MediaItem } from '../types.js';

export interface FailedOptions {
  store: Store;
  refresher: Pick<UrlRefresher, 'renew'>; // a dry run's renews nothing (lib/archive.ts)
  signal?: AbortSignal | undefined;
  batch?: number;
}

// Yields every failed item of the channel as a MediaItem with a fresh URL; one whose message is gone is marked
// `gone` (reported skipped `deleted` and taken out of the queue), one with no usable URL `invalid` (failed again,
// visibly, and retried next run): none is dropped silently.
export async function* failedItems(context: ChannelContext, options: FailedOptions): AsyncGenerator<MediaItem> {
  const batchSize = options.batch ?? 50;
  let batch: AttachmentRecord[] = [];
  for await (const record of options.store.failedItems({ channelId: context.channel_id }, options.signal)) {
    batch.push(record);
    if (batch.length >= batchSize) {
      yield* refreshed(batch, context, options);
      batch = [];
    }
  }
  if (batch.length > 0) yield* refreshed(batch, context, options);
}

async function* refreshed(records: AttachmentRecord[], context: ChannelContext, options: FailedOptions): AsyncGenerator<MediaItem> {
  // Requested together, so the refresher sends them as one POST /attachments/refresh-urls.
  const renewals = await Promise.all(
    records.map((r) =>
      // Without a URL (Discord sent an unusable one, see media.ts) the refresher re-fetches the message.
      options.refresher.renew({ url: r.url ?? '', channelId: r.channel_id, messageId: r.message_id, attachmentId: r.attachment_id }),
    ),
  );
  for (const [index, record] of records.entries()) {
    options.signal?.throwIfAborted();
    const renewal = renewals[index] ?? {};
    const url = renewal.url ?? record.url ?? '';
    yield {
      ...(renewal.gone !== undefined
        ? { gone: renewal.gone }
        : url === ''
          ? { invalid: 'no usable link: Discord sent none and its message could not be re-fetched' }
          : {}),
      kind: 'item',
      context,
      message_id: record.message_id,
      timestamp: record.timestamp,
      author_id: record.author_id,
      author_name: record.author_name,
      message: {
        edited_timestamp: record.edited_timestamp ?? null,
        author_display_name: record.author_display_name,
        author_bot: record.author_bot ?? false,
        content: record.content ?? '',
      },
      attachment_id: record.attachment_id,
      width: record.width,
      height: record.height,
      description: record.description,
      spoiler: record.spoiler,
      filename: record.filename,
      size: record.size,
      content_type: record.content_type,
      url,
      source: record.source,
      index: record.index ?? 0,
      last_of_message: true,
      unique_name: record.unique_name ?? record.filename,
    };
  }
}
