// flatten: each message of a page -> one item per downloadable file in it (attachments, forwarded attachments,
// Components-V2 media, and on request embeds and stickers); a run of messages holding none becomes one mark,
// so the checkpoint can still move the cursor past them (docs/discord-api.md#where-files-live-in-a-message). A per-item step
// (stream-chain): one page expands into its units (`many`), and a page shares nothing with the next.

import { many } from 'stream-chain';
import type { Many } from 'stream-chain/defs.js';
import { mediaOf } from '../discord/media.js';
import { withAttachmentId } from '../fs/safe-name.js';
import type { MediaCandidate, MediaOptions } from '../discord/media.js';
import type { APIMessage } from 'discord-api-types/v10';
import type { ChannelContext, ChannelPage, MediaItem, MessageInfo, MessageMark } from '../types.js';

export type FlattenOptions = MediaOptions;

const THREAD_STARTER_MESSAGE = 21;

// The step: a page's files in a stable order, messages without files marked in runs (one mark per run).
export function flatten(options: FlattenOptions = {}): (page: ChannelPage) => Many<MediaItem | MessageMark> {
  return (page) => many(unitsOf(page, options));
}

function unitsOf({ context, messages, down, cursor }: ChannelPage, options: FlattenOptions): Array<MediaItem | MessageMark> {
  const units: Array<MediaItem | MessageMark> = [];
  if (cursor !== undefined) units.push({ kind: 'mark', context, message_id: cursor, messages: 0 });
  let mark: MessageMark | undefined;
  for (const message of messages) {
    const candidates = message.type === THREAD_STARTER_MESSAGE ? [] : mediaOf(message, options);
    if (candidates.length === 0) {
      if (mark) {
        mark.message_id = message.id;
        mark.messages++;
      } else mark = { kind: 'mark', context, message_id: message.id, messages: 1, down };
      continue;
    }
    if (mark) units.push(mark);
    mark = undefined;
    units.push(...itemsOf(context, message, candidates, down));
  }
  if (mark) units.push(mark);
  return units;
}

// One item per file of a message, with names unique within the message.
function* itemsOf(context: ChannelContext, message: APIMessage, candidates: readonly MediaCandidate[], down: string | undefined): Generator<MediaItem> {
  const names = uniqueNames(candidates);
  const info = messageInfo(message);
  for (const [index, candidate] of candidates.entries()) {
    const item: MediaItem = {
      kind: 'item',
      context,
      message_id: message.id,
      timestamp: typeof message.timestamp === 'string' ? message.timestamp : new Date(0).toISOString(),
      author_id: message.author?.id,
      author_name: message.author?.username,
      message: info,
      attachment_id: candidate.id,
      filename: candidate.filename,
      size: candidate.size,
      content_type: candidate.content_type,
      url: candidate.url,
      source: candidate.source,
      width: candidate.width,
      height: candidate.height,
      description: candidate.description,
      spoiler: candidate.spoiler,
      index,
      last_of_message: index === candidates.length - 1,
      unique_name: names[index]!,
      down,
    };
    if (candidate.invalid !== undefined) item.invalid = candidate.invalid;
    yield item;
  }
}

// What a message says beyond ids and time, read defensively (a malformed field becomes its empty value).
function messageInfo(message: APIMessage): MessageInfo {
  const author = message.author as { global_name?: unknown; bot?: unknown } | undefined;
  return {
    edited_timestamp: typeof message.edited_timestamp === 'string' ? message.edited_timestamp : null,
    author_display_name: typeof author?.global_name === 'string' && author.global_name !== '' ? author.global_name : undefined,
    author_bot: author?.bot === true || message.webhook_id !== undefined,
    content: typeof message.content === 'string' ? message.content : '',
  };
}

// Names that are unique (case-insensitively) among one message's files; later twins get their id appended.
function uniqueNames(candidates: readonly MediaCandidate[]): string[] {
  const taken = new Set<string>();
  return candidates.map((candidate) => {
    let name = candidate.filename;
    if (taken.has(name.toLowerCase())) name = withAttachmentId(name, candidate.id);
    taken.add(name.toLowerCase());
    return name;
  });
}
