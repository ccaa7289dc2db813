// Stage 2: one message -> one item per downloadable file in it (attachments, forwarded attachments,
// Components-V2 media, and on request embeds and stickers), or a mark when it holds none, so the
// checkpoint can still move the cursor past it (discord-api.md §2, trap 7, trap 8).

import { mediaOf } from '../discord/media.js';
import type { MediaCandidate, MediaOptions } from '../discord/media.js';
import type { ChannelMessage, MediaItem, MessageMark } from '../types.js';

export type FlattenOptions = MediaOptions;

const THREAD_STARTER_MESSAGE = 21;

// Yields each message's files in a stable order, then marks the message's end.
export async function* flatten(source: AsyncIterable<ChannelMessage>, options: FlattenOptions = {}): AsyncGenerator<MediaItem | MessageMark> {
  for await (const { context, message } of source) {
    const candidates = message.type === THREAD_STARTER_MESSAGE ? [] : mediaOf(message, options);
    if (candidates.length === 0) {
      yield { kind: 'mark', context, message_id: message.id };
      continue;
    }
    const names = uniqueNames(candidates);
    for (const [index, candidate] of candidates.entries()) {
      yield {
        kind: 'item',
        context,
        message_id: message.id,
        timestamp: typeof message.timestamp === 'string' ? message.timestamp : new Date(0).toISOString(),
        author_id: message.author?.id,
        author_name: message.author?.username,
        attachment_id: candidate.id,
        filename: candidate.filename,
        size: candidate.size,
        content_type: candidate.content_type,
        url: candidate.url,
        source: candidate.source,
        index,
        last_of_message: index === candidates.length - 1,
        unique_name: names[index]!,
      };
    }
  }
}

// Names that are unique (case-insensitively) among one message's files; later twins get their id appended.
function uniqueNames(candidates: readonly MediaCandidate[]): string[] {
  const taken = new Set<string>();
  return candidates.map((candidate) => {
    let name = candidate.filename;
    if (taken.has(name.toLowerCase())) {
      const dot = name.lastIndexOf('.');
      name = dot > 0 ? `${name.slice(0, dot)}_${candidate.id}${name.slice(dot)}` : `${name}_${candidate.id}`;
    }
    taken.add(name.toLowerCase());
    return name;
  });
}

