// What --write-metadata writes of a saved file (README, "Metadata"): the message's fields and the file's own,
// shared by the sidecars (metadata.ts) and the channel logs (metadata-channel.ts, s3-metadata-channel.ts), what
// their writers take, and the part of a channel log's line the folder and the object log share.

import type { S3Target } from '../s3/destination.js'; // issue 26
import type { Clock } from '../discord/clock.js';
import type { KeyedLock } from '../util/keyed-lock.js';
import type { FolderCache } from '../fs/atomic-write.js';
import type { DiskThread } from '../fs/disk-thread.js';
import type { Store } from '../store/store.js';
import type { ChannelContext, MediaItem } from '../types.js';
import { closeSidecar } from '../fs/sidecar-text.js';
import { messageFields } from './record.js';

export type MetadataMode = 'file' | 'channel';

export interface MetadataOptions {
  mode: MetadataMode;
  store: Store;
  out: string;
  pathPattern?: string | undefined; // --path-pattern: the channel's log goes to the folder of its first file
  folders: FolderCache;
  disk: DiskThread; // the run's disk thread: writes each sidecar in one request (lib/fs/sidecar.ts)
  context: ChannelContext;
  retry: boolean; // the retry pass (its lines are marked "retry": true)
  log?: ((line: string) => void) | undefined;
  signal?: AbortSignal | undefined;
  s3?: S3Target | undefined; // --out s3:// (issue 26): sidecars are objects (s3-sidecar.ts), a log too (s3-metadata-channel.ts)
  // An object log (s3-metadata-channel.ts): the run's locks (one channel's writers take turns), its clock, the
  // shortest wait between rewrites during a pass, and the signal that stops a rewrite after a stop (a hard stop).
  locks?: KeyedLock | undefined;
  clock?: Clock | undefined;
  logIntervalMs?: number | undefined;
  transferSignal?: AbortSignal | undefined;
  onLogWritten?: ((url: string, lines: number) => void) | undefined; // an object log now holds `lines` lines (tests)
  // After a crash in a window of sidecars not yet durable (lib/run-sidecars.ts): its start, in ms. A sidecar's
  // name holding a broken file (not JSON) written since then may be replaced (sidecar-repair.ts).
  repairSince?: number | undefined;
}

// A saved file as the metadata sees it.
export interface SavedFile {
  item: MediaItem;
  path: string;
  sha256: string;
  bytes: number;
  duplicate_of?: string | undefined;
  sidecar?: true | undefined; // its sidecar was written with it (SavedResult.sidecar)
}

// What a writer does with a pass's files: take each, finish a message (before its last result goes on), close.
export interface MetadataWriter {
  file(file: SavedFile): void;
  idle?(): boolean; // nothing written or being written: a message's end needs no wait (file mode)
  messageDone(): Promise<void>;
  close(): Promise<void>;
}

// The message fields every sidecar and messages.ndjson line carries (README, "Metadata").
export function messageMetadata(item: MediaItem): Record<string, unknown> {
  const fields = messageFields(item);
  return {
    message_id: item.message_id,
    timestamp: item.timestamp,
    edited_timestamp: fields.edited_timestamp,
    author_id: item.author_id,
    author_name: item.author_name,
    author_display_name: fields.author_display_name,
    author_bot: fields.author_bot,
    content: fields.content,
    guild_id: item.context.guild_id,
    guild_name: fields.guild_name,
    channel_id: item.context.channel_id,
    channel_name: fields.channel_name,
    thread_name: fields.thread_name,
    jump_url: fields.jump_url,
  };
}

// One file's own fields (a sidecar adds the message's; a messages.ndjson line lists them under `files`).
export function fileMetadata(file: SavedFile): Record<string, unknown> {
  return {
    ...attachmentMetadata(file.item),
    path: file.path,
    sha256: file.sha256,
    bytes: file.bytes,
    duplicate_of: file.duplicate_of,
  };
}

// What a file's metadata says before it is downloaded: the attachment's fields (fileMetadata's first ones).
function attachmentMetadata(item: MediaItem): Record<string, unknown> {
  return {
    attachment_id: item.attachment_id,
    filename: item.filename,
    content_type: item.content_type,
    size: item.size,
    width: item.width,
    height: item.height,
    description: item.description,
    spoiler: item.spoiler === true,
    source: item.source,
  };
}

// A sidecar's text: the message's fields and the file's, as indented JSON and a newline (the same bytes as
// JSON.stringify({ ...messageMetadata(item), ...fileMetadata(file) }, null, 2), test/stages/metadata-fields.test.ts).
export function sidecarText(file: SavedFile): string {
  return closeSidecar(sidecarHead(file.item), file.path, file.sha256, file.bytes, file.duplicate_of);
}

// A sidecar's text up to the fields only the download tells (path, sha256, bytes), without its closing "\n}":
// the disk thread ends it (lib/fs/sidecar-text.ts) when it writes the sidecar with the file (write.ts). The
// fields of messageMetadata then attachmentMetadata, in their order, in one object printed by one JSON.stringify
// (one per downloaded file, on the main thread: Object.assign onto the first object, not a spread into a third,
// which took seven times the CPU).
export function sidecarHead(item: MediaItem): string {
  const text = JSON.stringify(Object.assign(messageMetadata(item), attachmentMetadata(item)), null, 2);
  return text.slice(0, -2); // without the closing "\n}" (message_id is always there: never "{}")
}

// Who claims a sidecar's name in the state when the metadata stage writes it (metadata.ts).
export function sidecarOwner(item: MediaItem): string {
  return `sidecar!${item.attachment_id}!${item.message_id}`;
}

// Does this file have a name of its own? A duplicate linked at its own path does; one recorded at the first
// copy's path (no hard links there) does not, and gets no sidecar (the first copy's sidecar is not its own).
export function ownsFile(file: SavedFile): boolean {
  return file.duplicate_of === undefined || file.path !== file.duplicate_of;
}

// A channel log writer's files of the message in progress: taken whole when the message is done.
export class MessageFiles {
  #files: SavedFile[] = [];

  add(file: SavedFile): void {
    this.#files.push(file);
  }

  // The message's files, first one apart (undefined when it saved none); the next message starts empty.
  take(): { files: SavedFile[]; first: SavedFile } | undefined {
    const files = this.#files;
    this.#files = [];
    const first = files[0];
    return first === undefined ? undefined : { files, first };
  }
}

// A message's messages.ndjson line (its text with the newline) for the files no line lists yet (`listed`: the
// attachment ids the channel's lines already list for it), and the ids its lines list once it is written;
// undefined when every file is listed. "added" when an earlier line lists some, "retry" from the retry pass.
export function channelLogLine(
  files: readonly SavedFile[],
  first: SavedFile,
  listed: readonly string[],
  retry: boolean,
): { text: string; message: { message_id: string; files: string[] } } | undefined {
  const known = new Set(listed);
  const fresh = files.filter((file) => !known.has(file.item.attachment_id));
  if (fresh.length === 0) return undefined;
  const line: Record<string, unknown> = { ...messageMetadata(first.item), files: fresh.map(fileMetadata) };
  if (listed.length > 0) line.added = true;
  if (retry) line.retry = true;
  return {
    text: `${JSON.stringify(line)}\n`,
    message: { message_id: first.item.message_id, files: [...listed, ...fresh.map((f) => f.item.attachment_id)] },
  };
}
