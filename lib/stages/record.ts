// Every outcome of an item becomes a store record here, and nowhere else: saved (a download, an adopted file, a
// reference to an earlier copy), failed (queued for the retry pass) and gone (its message was deleted).
// When each is written is part of the crash-safety contract (ARCHITECTURE.md):
// - a saved file is recorded by the step that placed it (dedupe.ts, adopt.ts, reference.ts), under its hash or
//   attachment lock and while its path claim is held: the next download of the same bytes or attachment id must
//   see the record to link instead of downloading again;
// - a failure is recorded by the checkpoint when the result reaches it in order, before the cursor moves past its
//   message: a result still in fetch's window when the run stops is neither announced nor queued for retry, so
//   the next run's walk takes it again and announces it once.

import type { SavedRecord, Store } from '../store/store.js';
import type { AttachmentRecord, FailedResult, MediaItem, SavedResult, SkippedItem } from '../types.js';

// What recordSaved's caller has just established under its locks (see Store.recordSaved).
export interface SavedFacts {
  newHash: boolean; // no file with these bytes was recorded before
  ownsPath: boolean; // the result's path is this attachment's claim
}

// A saved file (downloaded here, or re-adopted): the attachment's record, its hash and its path.
export async function recordSaved(store: Store, result: SavedResult, facts: SavedFacts): Promise<SavedResult> {
  await store.recordSaved(savedRecord(result), facts);
  return result;
}

// A message's copy of an attachment archived from another message: a reference beside the first record.
export async function recordReference(store: Store, result: SavedResult, first: SavedRecord): Promise<SavedResult> {
  const { item } = result;
  await store.recordReference({
    ...first,
    guild_id: item.context.guild_id,
    channel_id: item.context.channel_id,
    message_id: item.message_id,
    filename: item.filename,
    content_type: item.content_type ?? first.content_type,
    timestamp: item.timestamp,
    source: item.source,
    author_id: item.author_id,
    author_name: item.author_name,
    ...messageFields(item), // this message's author, text and names, not the first copy's
    status: 'saved',
    path: result.path,
    duplicate_of: first.path,
    url: undefined,
    updated_at: new Date().toISOString(),
  });
  return result;
}

// A failed file, queued for the retry pass (its reason code and detail kept), or a file whose message is gone,
// taken out of the queue for good. Other results need no record here.
export async function recordFailure(store: Store, result: FailedResult | SkippedItem): Promise<void> {
  if (result.kind === 'failed') {
    const reason = result.detail ? `${result.reason}: ${result.detail}` : result.reason;
    await store.recordFailed(attachmentRecord(result.item, 'failed', reason, { url: result.item.url, size: result.item.size }));
  } else if (result.reason === 'deleted') await store.recordGone(attachmentRecord(result.item, 'gone', 'deleted'));
}

// What every record keeps of its item: ids, name, type, time and where in the message it came from, and the
// message's context (messageFields).
function itemFields(
  item: MediaItem,
): Pick<AttachmentRecord, 'attachment_id' | 'guild_id' | 'channel_id' | 'message_id' | 'filename' | 'content_type' | 'timestamp' | 'source'> & MessageFields {
  return {
    attachment_id: item.attachment_id,
    guild_id: item.context.guild_id,
    channel_id: item.context.channel_id,
    message_id: item.message_id,
    filename: item.filename,
    content_type: item.content_type,
    timestamp: item.timestamp,
    source: item.source,
    author_id: item.author_id,
    author_name: item.author_name,
    ...messageFields(item),
  };
}

// The message context a record carries (README, "Manifest"): who posted it, what it says, where it is and the
// attachment's own description. Fields Discord did not send stay absent (undefined is not serialised), so a
// record costs only what the message holds; a failed record keeps them so its retry records them on success.
export type MessageFields = Pick<
  AttachmentRecord,
  | 'author_id'
  | 'author_name'
  | 'edited_timestamp'
  | 'author_display_name'
  | 'author_bot'
  | 'content'
  | 'guild_name'
  | 'channel_name'
  | 'thread_name'
  | 'width'
  | 'height'
  | 'description'
  | 'spoiler'
  | 'jump_url'
>;

export function messageFields(item: MediaItem): Omit<MessageFields, 'author_id' | 'author_name'> {
  const { context, message } = item;
  const thread = context.parent_id !== undefined;
  return {
    edited_timestamp: message.edited_timestamp,
    author_display_name: message.author_display_name,
    author_bot: message.author_bot,
    content: message.content,
    guild_name: context.guild_name,
    // A thread's files: channel_name is its parent's, thread_name its own.
    channel_name: thread ? (context.parent_name ?? context.channel_name) : context.channel_name,
    thread_name: thread ? context.channel_name : undefined,
    width: item.width,
    height: item.height,
    description: item.description,
    spoiler: item.spoiler === true,
    jump_url: jumpUrl(context.guild_id, context.channel_id, item.message_id),
  };
}

// The link Discord's clients open a message with; the channel is the one the message is in (a thread's own id).
export function jumpUrl(guildId: string, channelId: string, messageId: string): string {
  return `https://discord.com/channels/${guildId}/${channelId}/${messageId}`;
}

function savedRecord(result: SavedResult): SavedRecord {
  const { item } = result;
  return {
    ...itemFields(item),
    status: 'saved',
    path: result.path,
    sha256: result.sha256,
    bytes: result.bytes,
    size: item.size, // what Discord declared (its sidecar says it; a repaired sidecar is rebuilt from this record)
    duplicate_of: result.duplicate_of,
    updated_at: new Date().toISOString(),
  };
}

// `extra`: what a failed record keeps for its retry (the link and the declared size).
function attachmentRecord(
  item: MediaItem,
  status: AttachmentRecord['status'],
  reason: string,
  extra: Pick<AttachmentRecord, 'url' | 'size'> = {},
): AttachmentRecord {
  return {
    ...itemFields(item),
    status,
    reason,
    ...extra,
    unique_name: item.unique_name,
    index: item.index,
    updated_at: new Date().toISOString(),
  };
}
