// The NDJSON contract on stdout: one object per line, `event` names and fields are API that users'
// scripts depend on (README "NDJSON events"). Builders live here so every event has one shape.

import { channelSkipReason } from '../errors.js';
import type { DpsError } from '../errors.js';
import type { ChannelContext, FailedResult, MediaItem, SavedResult, SkippedItem } from '../types.js';

// Counts kept per channel (and summed for the run).
export interface Counts {
  messages: number;
  saved: number; // new files written (including hard-linked duplicates)
  duplicates: number; // of those, identical bytes linked to an earlier file
  skipped: number;
  failed: number;
  bytes: number; // bytes downloaded
}

export function emptyCounts(): Counts {
  return { messages: 0, saved: 0, duplicates: 0, skipped: 0, failed: 0, bytes: 0 };
}

export function addCounts(into: Counts, from: Counts): void {
  into.messages += from.messages;
  into.saved += from.saved;
  into.duplicates += from.duplicates;
  into.skipped += from.skipped;
  into.failed += from.failed;
  into.bytes += from.bytes;
}

export interface SavedEvent {
  event: 'saved';
  guild_id: string;
  channel_id: string;
  message_id: string;
  attachment_id: string;
  filename: string;
  path: string;
  bytes: number;
  sha256: string;
  content_type: string | null;
  timestamp: string;
  source: string;
  duplicate_of?: string;
  adopted?: true; // the file was already at its path (the state had lost its record): hashed, not downloaded
}

export interface SkippedEvent {
  event: 'skipped';
  reason: string;
  guild_id: string;
  channel_id: string;
  message_id?: string;
  attachment_id?: string;
  filename?: string;
  size?: number | null;
  content_type?: string | null;
  detail?: string;
}

export interface FailedEvent {
  event: 'failed';
  reason: string;
  guild_id: string;
  channel_id: string;
  message_id?: string;
  attachment_id?: string;
  filename?: string;
  status?: number;
  detail?: string;
}

export interface ChannelDoneEvent extends Counts {
  event: 'channel_done';
  guild_id: string;
  channel_id: string;
  channel_name: string;
  parent_id?: string;
  cursor: string | null;
  complete: boolean;
}

export interface SummaryEvent extends Counts {
  event: 'summary';
  channels: number;
  elapsed_ms: number;
  // The least time any schedule needed for the history this run walked: max(its largest channel's pages at the
  // per-channel rate, all its pages at the global rate) (lib/run-estimates.ts); absent when nothing was walked.
  estimated_floor_ms?: number;
  exit_code: number;
  per_channel: Array<{ channel_id: string; channel_name: string } & Counts>;
  error?: string;
}

// Something the user must fix that is not tied to one file (e.g. the Message Content intent is off).
export interface WarningEvent {
  event: 'warning';
  code: string;
  detail: string;
  guild_id?: string;
  channel_id?: string;
  // code `rate_limited` (a wait longer than 10 s): what is waited for and until when
  scope?: 'global' | 'route';
  route?: string;
  wait_ms?: number;
  until?: string;
}

export type DpsEvent = SavedEvent | SkippedEvent | FailedEvent | ChannelDoneEvent | SummaryEvent | WarningEvent | DryRunEvent; // a dry run's file event (below)
export type DryRunEvent = WouldSaveEvent;

// The fields every file event starts with: where the file was posted, and which one it is.
function fileFields(item: MediaItem): Pick<SavedEvent, 'guild_id' | 'channel_id' | 'message_id' | 'attachment_id' | 'filename'> {
  return {
    guild_id: item.context.guild_id,
    channel_id: item.context.channel_id,
    message_id: item.message_id,
    attachment_id: item.attachment_id,
    filename: item.filename,
  };
}

export function savedEvent(result: SavedResult): SavedEvent {
  const { item } = result;
  const event: SavedEvent = {
    event: 'saved',
    ...fileFields(item),
    path: result.path,
    bytes: result.bytes,
    sha256: result.sha256,
    content_type: item.content_type ?? null,
    timestamp: item.timestamp,
    source: item.source,
  };
  if (result.duplicate_of !== undefined) event.duplicate_of = result.duplicate_of;
  if (result.adopted === true) event.adopted = true;
  return event;
}

export function skippedEvent(result: SkippedItem): SkippedEvent {
  const { item } = result;
  const event: SkippedEvent = {
    event: 'skipped',
    reason: result.reason,
    ...fileFields(item),
    size: item.size ?? null,
    content_type: item.content_type ?? null,
  };
  if (result.detail !== undefined) event.detail = result.detail;
  return event;
}

// A whole channel skipped before any message was read (no access, filtered out, ...).
export function channelSkippedEvent(context: ChannelContext, reason: string, detail?: string): SkippedEvent {
  const event: SkippedEvent = { event: 'skipped', reason, guild_id: context.guild_id, channel_id: context.channel_id };
  if (detail !== undefined) event.detail = detail;
  return event;
}

// A channel that cannot be read (an AccessError: DPS_NOT_FOUND or DPS_ACCESS), skipped with the error's message.
export function skippedChannel(context: ChannelContext, error: DpsError): SkippedEvent {
  return channelSkippedEvent(context, channelSkipReason(error), error.message);
}

export function failedEvent(result: FailedResult): FailedEvent {
  const { item } = result;
  const event: FailedEvent = {
    event: 'failed',
    reason: result.reason,
    ...fileFields(item),
  };
  if (result.status !== undefined) event.status = result.status;
  if (result.detail !== undefined) event.detail = result.detail;
  return event;
}

export function channelDoneEvent(context: ChannelContext, counts: Counts, cursor: string | undefined, complete: boolean): ChannelDoneEvent {
  const event: ChannelDoneEvent = {
    event: 'channel_done',
    guild_id: context.guild_id,
    channel_id: context.channel_id,
    channel_name: context.channel_name,
    cursor: cursor ?? null,
    complete,
    ...counts,
  };
  if (context.parent_id !== undefined) event.parent_id = context.parent_id;
  return event;
}

// The run's last event: its totals, each channel's counts, and the error that stopped it (if any).
export function summaryEvent(
  totals: Counts,
  perChannel: SummaryEvent['per_channel'],
  elapsedMs: number,
  exitCode: number,
  error?: DpsError | undefined,
  floorMs?: number | undefined,
): SummaryEvent {
  const event: SummaryEvent = {
    event: 'summary',
    channels: perChannel.length,
    ...totals,
    elapsed_ms: elapsedMs,
    ...(floorMs !== undefined ? { estimated_floor_ms: floorMs } : {}),
    exit_code: exitCode,
    per_channel: perChannel,
  };
  if (error) event.error = error.message;
  return event;
}

// ---- dry runs (--dry-run, lib/stages/simulate.ts) ----

// A file a real run would save: the `saved` fields known without its bytes. `size` is Discord's declared size
// (null when it declares none: embeds). `duplicate_of`: a reference to a file archived (or counted) before, a
// hard link a real run makes without downloading; `adopted`: a file an interrupted run wrote, a real run hashes it
// instead of downloading; `retry`: from the failed-file queue. Neither of the first two is in would_save_bytes.
export interface WouldSaveEvent {
  event: 'would_save';
  guild_id: string;
  channel_id: string;
  message_id: string;
  attachment_id: string;
  filename: string;
  path: string;
  size: number | null;
  content_type: string | null;
  timestamp: string;
  author_id: string | null;
  author_name: string | null;
  source: string;
  duplicate_of?: string;
  adopted?: true;
  retry?: true;
  archived?: true; // saved by an interrupted run that never announced it: a real run announces it, downloads nothing
}

// A dry run's counts, beside the usual ones (which stay 0 but for messages, skipped and failed) in its
// channel_done events, the summary and each of its per_channel entries.
export interface DryRunCounts {
  would_save: number; // files a real run would save (every would_save event)
  would_download: number; // of those, the files it would download (no duplicate_of, no adopted, no archived)
  would_save_bytes: number; // their declared sizes: the bytes a real run downloads
  would_save_unsized: number; // of would_download, files whose size Discord does not declare (embeds): not in the bytes
}

export function emptyDryRunCounts(): DryRunCounts {
  return { would_save: 0, would_download: 0, would_save_bytes: 0, would_save_unsized: 0 };
}

// The dry-run counts of a run: the sum of its channels'.
export function sumDryRunCounts(channels: Iterable<Partial<DryRunCounts>>): DryRunCounts {
  const sum = emptyDryRunCounts();
  for (const counts of channels) {
    sum.would_save += counts.would_save ?? 0;
    sum.would_download += counts.would_download ?? 0;
    sum.would_save_bytes += counts.would_save_bytes ?? 0;
    sum.would_save_unsized += counts.would_save_unsized ?? 0;
  }
  return sum;
}

export function wouldSaveEvent(
  item: MediaItem,
  path: string,
  how: { duplicate_of?: string | undefined; adopted?: boolean | undefined; retry?: boolean | undefined; archived?: boolean | undefined } = {},
): WouldSaveEvent {
  const event: WouldSaveEvent = {
    event: 'would_save',
    ...fileFields(item),
    path,
    size: item.size ?? null,
    content_type: item.content_type ?? null,
    timestamp: item.timestamp,
    author_id: item.author_id ?? null,
    author_name: item.author_name ?? null,
    source: item.source,
  };
  if (how.duplicate_of !== undefined) event.duplicate_of = how.duplicate_of;
  if (how.adopted === true) event.adopted = true;
  if (how.retry === true) event.retry = true;
  if (how.archived === true) event.archived = true; // already on disk and recorded: announced only
  return event;
}
