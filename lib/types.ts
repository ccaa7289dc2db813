// The data that flows between pipeline stages, and the records kept in the state store.
// Every stage file imports its input/output types from here so the pipeline reads as one contract.

import type { APIMessage } from 'discord-api-types/v10';

// Where an archived file came from inside a message.
export type MediaSource = 'attachment' | 'forward' | 'embed' | 'component' | 'sticker';

// The server and channel a message belongs to (names are used for folder names).
export interface ChannelContext {
  guild_id: string;
  guild_name: string;
  channel_id: string;
  channel_name: string;
  // For threads: the parent channel, so files go under <Parent>/threads/<Thread>.
  parent_id?: string | undefined;
  parent_name?: string | undefined;
  // For threads: the parent's channel type (15 forum, 16 media: the thread is a post), when dps learnt it (issue 25).
  parent_type?: number | undefined;
}

// paginate's output: one page of messages with its channel context. Pages (not single messages) travel between
// the first stages so a million-message channel costs ten thousand stream hops. A channel is walked from both
// ends (lib/discord/pages.ts): pages walked up are in ascending id order; pages walked down are in descending
// order and carry `down`; an empty page with `cursor` says both walks met.
export interface ChannelPage {
  kind: 'page';
  context: ChannelContext;
  messages: readonly APIMessage[];
  down?: string | undefined; // walked down: once a message is done, so is everything from it up to this id
  cursor?: string | undefined; // every message <= this id has been walked (and is done once what came before is)
}

// flatten's output: one downloadable file of one message.
export interface MediaItem {
  kind: 'item';
  context: ChannelContext;
  message_id: string;
  timestamp: string; // ISO8601 of the message
  author_id: string | undefined;
  author_name: string | undefined; // the user name
  // What the message says, shared by its items (one object per message): edits, display name, bot, text.
  message: MessageInfo;
  attachment_id: string; // attachment id, or a stable synthetic id for embeds/stickers
  filename: string; // as Discord reports it, unsanitised
  size: number | undefined; // bytes, when Discord says
  content_type: string | undefined;
  url: string; // signed CDN URL, kept verbatim
  source: MediaSource;
  width?: number | undefined; // pixels, when Discord says (images and videos)
  height?: number | undefined;
  description?: string | undefined; // the attachment's alt text
  spoiler?: boolean | undefined; // marked as a spoiler
  // Position of this item among its message's items (for unique names), and whether it is the last one.
  index: number;
  last_of_message: boolean;
  // A name unique among the message's items (set by flatten when two share a name).
  unique_name: string;
  down?: string | undefined; // from a page walked down (see ChannelPage)
  invalid?: string | undefined; // Discord sent this attachment unusable (see media.ts): reported failed, never fetched
  gone?: string | undefined; // the retry pass found its message (or channel) deleted: reported skipped `deleted`, never fetched
}

// The message context of an item beyond its ids and time (records, sidecars, filters and name patterns read it).
export interface MessageInfo {
  edited_timestamp: string | null; // ISO8601 of the last edit, null when never edited
  author_display_name: string | undefined; // the author's global display name, when set
  author_bot: boolean; // posted by a bot (or a webhook)
  content: string; // the message text ('' when none, or without the Message Content intent)
}

// Messages that yield no item still have to pass the checkpoint stage, so the cursor can advance past them:
// one mark stands for a run of consecutive such messages ending at `message_id`.
export interface MessageMark {
  kind: 'mark';
  context: ChannelContext;
  message_id: string; // the last message of the run: the newest walking up, the oldest walking down
  messages: number; // how many messages the run holds (>= 1; 0 for a page's cursor, see ChannelPage)
  down?: string | undefined; // from a page walked down (see ChannelPage)
}

// filter's output: items either selected for download or skipped with a reason.
// `author`: --author / --exclude-author / --exclude-bots; `too_small`: --min-size / --min-width / --min-height;
// `spoiler`: --spoilers exclude (a spoiler) or only (not one).
export type SkipReason = 'type' | 'too_large' | 'already_archived' | 'deleted' | 'author' | 'too_small' | 'spoiler';

export interface SkippedItem {
  kind: 'skipped';
  item: MediaItem;
  reason: SkipReason;
  detail?: string;
}

export type FilteredUnit = MediaItem | SkippedItem | MessageMark;

// An item an earlier run archived (its record is in the store, lib/stages/archived.ts): never fetched again. The
// checkpoint reports it as `saved` from the record when `announce` (an interrupted run wrote the file but never
// printed its event), else as skipped `already_archived`.
export interface ArchivedItem {
  kind: 'archived';
  item: MediaItem;
  path: string;
  bytes: number;
  sha256: string;
  duplicate_of?: string | undefined;
  announce: boolean;
}

// What the fetch stage takes: items to download, and the units it passes through to the checkpoint.
export type SelectedUnit = FilteredUnit | ArchivedItem;

// fetch's output: what happened to one selected item.
export interface SavedResult {
  kind: 'saved';
  item: MediaItem;
  path: string;
  bytes: number;
  sha256: string;
  duplicate_of?: string | undefined;
  adopted?: boolean | undefined; // an earlier run's file found at its path, hashed and recorded, not downloaded (adopt.ts)
  // --write-metadata: its sidecar is already durable at `<path>.json`, written by the disk thread with the file
  // (write.ts); the metadata stage leaves it alone. Never part of the `saved` event.
  sidecar?: true | undefined;
}

export interface FailedResult {
  kind: 'failed';
  item: MediaItem;
  reason: string; // stable code: expired, http_404, size_mismatch, network, refused_host, ...
  detail?: string | undefined; // human explanation
  status?: number | undefined;
  stop?: Error | undefined; // the run stops once this failure is recorded and announced (an unsafe output folder)
}

export type ItemResult = SavedResult | FailedResult | SkippedItem | ArchivedItem | MessageMark;

// The record of one attachment in the state store.
export interface AttachmentRecord {
  attachment_id: string;
  guild_id: string;
  channel_id: string;
  message_id: string;
  filename: string;
  content_type: string | undefined;
  timestamp: string;
  source: MediaSource;
  status: 'saved' | 'failed' | 'gone'; // gone: the message (or channel) was deleted before the file could be saved
  path?: string | undefined; // absolute path of the file (or of the file it duplicates, when not linked)
  sha256?: string | undefined;
  bytes?: number | undefined;
  duplicate_of?: string | undefined; // path of the first copy of the same bytes
  reason?: string | undefined; // for failed
  url?: string | undefined; // last known signed URL (for retrying failed items)
  size?: number | undefined; // size Discord reported (failed items: to check the retry's byte count; saved: as declared)
  unique_name?: string | undefined; // the name used for the file (failed items: the retry writes the same path)
  author_id?: string | undefined;
  author_name?: string | undefined; // failed items: the name pattern's {author}, so the retry writes the same path
  index?: number | undefined; // failed items: the name pattern's {index}
  attempts?: number | undefined;
  updated_at: string;
  // The message context (records written before dps kept it lack these fields; readers show what a record has).
  edited_timestamp?: string | null | undefined;
  author_display_name?: string | undefined;
  author_bot?: boolean | undefined;
  content?: string | undefined;
  guild_name?: string | undefined;
  channel_name?: string | undefined; // for a thread: its parent channel's name
  thread_name?: string | undefined; // for a thread: the thread's name
  width?: number | undefined;
  height?: number | undefined;
  description?: string | undefined; // alt text
  spoiler?: boolean | undefined;
  jump_url?: string | undefined; // https://discord.com/channels/<guild>/<channel>/<message>
}

// Messages from..to (inclusive ids), all fully processed.
export interface DoneSpan {
  from: string;
  to: string;
}

// The record of one channel (or thread) in the state store.
export interface ChannelRecord extends ChannelContext {
  last_message_id: string | undefined; // cursor: every message <= this id is fully processed
  // A span above the cursor that an interrupted run walked down from its snapshot and finished: every message
  // from..to (inclusive) is fully processed. The next run walks the gap below it first.
  done_above?: DoneSpan | undefined;
  last_updated: string;
  total_images: number; // files saved (including deduplicated ones)
  failed: number;
  // The filter every message below the cursor and in done_above was walked with (at least); absent in records
  // written before dps recorded it (lib/store/walked-with.ts).
  walked_with?: WalkFilter | undefined;
  // Set while a run that selects more than walked_with walks the history again from the start: what earlier
  // runs had already announced, so the re-walk announces nothing twice.
  rewalk?: RewalkRecord | undefined;
  gone?: number | undefined; // failed files whose message (or channel) was deleted: no longer retried
  // Spans above the cursor that --after/--before runs finished and announced (every archived file in from..to had
  // its event printed): a later walk through them announces those files no more. Dropped once the cursor passes.
  windows?: DoneSpan[] | undefined;
  // `dps follow` (issue 24, `dps status`): when its last live message was finished (ISO), and the milliseconds
  // from that message's post (its snowflake's time) to its files being durable. Kept once the follow stops.
  last_event_at?: string | undefined;
  lag_ms?: number | undefined;
}

// What a run selects (--types, --max-size, --embeds, --stickers), as stored in a channel record.
export interface WalkFilter {
  types: string[] | 'all'; // sorted
  max_size: number | null; // bytes; null: no limit
  embeds: boolean;
  stickers: boolean;
  // The selection by author, size, dimensions and spoiler. Absent (as in records of an older dps): no such filter.
  authors?: string[] | undefined; // sorted user ids: only these (--author, less --exclude-author); absent: every author
  exclude_authors?: string[] | undefined; // sorted user ids left out (--exclude-author without --author)
  exclude_bots?: boolean | undefined; // --exclude-bots
  min_size?: number | undefined; // bytes (--min-size)
  min_width?: number | undefined; // pixels (--min-width)
  min_height?: number | undefined; // pixels (--min-height)
  spoilers?: 'exclude' | 'only' | 'none' | undefined; // absent: include; 'none' (a walk continued with exclude then only): neither
}

// The announced part of a channel when a re-walk began: every file of a message <= `below` or inside `above`
// had its event printed, unless its record was written at or after `since` (by the re-walk itself).
export interface RewalkRecord {
  below: string | undefined;
  above?: DoneSpan | undefined;
  since: string; // ISO time the re-walk began
}
