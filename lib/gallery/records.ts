// What the gallery shows, read from the state: every saved file (attachment records and references) of the
// selected servers and channels, grouped by channel in post order, and the channels' names and places.

import type { IndexChannel } from '../../web/data-types.js';
import type { Store } from '../store/store.js';
import type { AttachmentRecord, ChannelRecord } from '../types.js';
import { compareSnowflakes } from '../util/snowflake.js';

// 0 image, 1 animated image (known once decoded), 2 video, 3 other.
export const KIND = { image: 0, animated: 1, video: 2, other: 3 } as const;

const IMAGE_EXTENSIONS = new Set(['jpg', 'jpeg', 'jpe', 'jfif', 'png', 'gif', 'webp', 'avif', 'heic', 'heif', 'tif', 'tiff', 'bmp']);
const VIDEO_EXTENSIONS = new Set(['mp4', 'mov', 'webm', 'mkv', 'avi', 'm4v', 'mpg', 'mpeg']);

// An image (decoded for a thumbnail), a video or anything else (a typed placeholder), by content type, else extension.
export function fileKind(record: Pick<AttachmentRecord, 'content_type' | 'filename'>): number {
  const type = record.content_type?.split(';')[0]?.trim().toLowerCase() ?? '';
  if (type.startsWith('image/')) return KIND.image;
  if (type.startsWith('video/')) return KIND.video;
  if (type !== '') return KIND.other;
  const extension = record.filename.toLowerCase().split('.').pop() ?? '';
  if (IMAGE_EXTENSIONS.has(extension)) return KIND.image;
  if (VIDEO_EXTENSIONS.has(extension)) return KIND.video;
  return KIND.other;
}

// The fields of a saved record the gallery uses (a record also holds its signed URL and more: 200,000 of them
// are held at once, per channel, until the data files are written).
const KEPT = [
  'attachment_id',
  'guild_id',
  'channel_id',
  'message_id',
  'filename',
  'content_type',
  'timestamp',
  'author_id',
  'author_name',
  'author_display_name',
  'content',
  'width',
  'height',
  'description',
  'jump_url',
] as const;
export type SavedFile = Pick<AttachmentRecord, (typeof KEPT)[number]> & { path: string; sha256: string };

function slim(record: AttachmentRecord & { path: string; sha256: string }): SavedFile {
  const file: Record<string, unknown> = { path: record.path, sha256: record.sha256 };
  for (const key of KEPT) if (record[key] !== undefined) file[key] = record[key];
  return file as SavedFile;
}

// Channel types whose threads are posts (forum, media: docs/discord-api.md#thread-starter-messages).
const POST_PARENTS: ReadonlySet<number> = new Set([15, 16]);

// A channel of the gallery: what the state says of it, and its saved files in post order.
export interface GalleryChannel {
  guild_id: string;
  guild_name: string;
  channel_id: string;
  name: string;
  kind: IndexChannel['kind'];
  parent_id?: string | undefined;
  parent_name?: string | undefined;
  files: SavedFile[];
}

export interface Selection {
  guildId?: string | undefined;
  channelIds?: readonly string[] | undefined;
}

// Every selected channel with at least one saved file. Files of one channel are held together (their order is
// the post order, which the state's keys do not give); the records themselves are streamed.
export async function readChannels(store: Store, selection: Selection, signal?: AbortSignal): Promise<GalleryChannel[]> {
  const wanted = selection.channelIds && selection.channelIds.length > 0 ? new Set(selection.channelIds) : undefined;
  const channels = new Map<string, GalleryChannel>();
  const known = new Map<string, ChannelRecord>();
  for await (const channel of store.channels(signal)) known.set(channel.channel_id, channel);
  for await (const record of store.attachments({ guildId: selection.guildId }, signal)) {
    if (record.status !== 'saved' || record.path === undefined || record.sha256 === undefined) continue;
    if (wanted && !wanted.has(record.channel_id)) continue;
    let channel = channels.get(record.channel_id);
    if (channel === undefined) {
      const info = known.get(record.channel_id);
      channel = {
        guild_id: record.guild_id,
        guild_name: info?.guild_name || record.guild_name || record.guild_id,
        channel_id: record.channel_id,
        name: info?.channel_name || record.thread_name || record.channel_name || record.channel_id,
        kind:
          info?.parent_id === undefined ? 'channel' : info.parent_type === undefined ? 'thread' : POST_PARENTS.has(info.parent_type) ? 'forum-post' : 'thread',
        parent_id: info?.parent_id,
        parent_name: info?.parent_name ?? (info?.parent_id !== undefined ? record.channel_name : undefined),
        files: [],
      };
      channels.set(record.channel_id, channel);
    }
    channel.files.push(slim(record as AttachmentRecord & { path: string; sha256: string }));
    // A state from before dps kept the parent's type: a file of the message with the thread's own id is a post's
    // (a thread started from a message has a starter without files there; its message is in the parent).
    if (channel.kind === 'thread' && known.get(record.channel_id)?.parent_type === undefined && record.message_id === record.channel_id)
      channel.kind = 'forum-post';
  }
  for (const channel of channels.values()) channel.files.sort(postOrder);
  return [...channels.values()];
}

// Oldest message first; within a message, by attachment id (the order Discord lists them).
function postOrder(a: SavedFile, b: SavedFile): number {
  return compareSnowflakes(a.message_id, b.message_id) || compareSnowflakes(a.attachment_id, b.attachment_id) || a.attachment_id.localeCompare(b.attachment_id);
}
