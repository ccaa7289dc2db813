// The sidecar text and path keys as dps built them before issue 23's leaner versions (lib/stages/metadata-fields.ts,
// lib/fs/sidecar-text.ts, lib/store/store.ts pathKey): the "before" side of bench/sidecar-cpu.ts, and the oracle
// the tests compare the current code with, byte for byte (test/stages/metadata-fields.test.ts,
// test/store/path-key.test.ts). One copy, kept as it was.

import path from 'node:path';
import type { SavedFile } from '../lib/stages/metadata-fields.js';
import type { MediaItem } from '../lib/types.js';

// Every path through path.normalize, NFKC twice and the upper-then-lower case fold.
export function oldPathKey(file: string): string {
  return path.normalize(file).normalize('NFKC').toUpperCase().toLowerCase().normalize('NFKC');
}

// The fields and text as they were built before (one object, JSON.stringify(_, null, 2)).
export function oldMessageMetadata(item: MediaItem): Record<string, unknown> {
  const { context, message } = item;
  const thread = context.parent_id !== undefined;
  return {
    message_id: item.message_id,
    timestamp: item.timestamp,
    edited_timestamp: message.edited_timestamp,
    author_id: item.author_id,
    author_name: item.author_name,
    author_display_name: message.author_display_name,
    author_bot: message.author_bot,
    content: message.content,
    guild_id: context.guild_id,
    guild_name: context.guild_name,
    channel_id: context.channel_id,
    channel_name: thread ? (context.parent_name ?? context.channel_name) : context.channel_name,
    thread_name: thread ? context.channel_name : undefined,
    jump_url: `https://discord.com/channels/${context.guild_id}/${context.channel_id}/${item.message_id}`,
  };
}
export function oldAttachmentMetadata(item: MediaItem): Record<string, unknown> {
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
export function oldSidecarHead(item: MediaItem): string {
  return JSON.stringify({ ...oldMessageMetadata(item), ...oldAttachmentMetadata(item) }, null, 2).slice(0, -2);
}
export function oldSidecarText(file: SavedFile): string {
  const fields = { ...oldAttachmentMetadata(file.item), path: file.path, sha256: file.sha256, bytes: file.bytes, duplicate_of: file.duplicate_of };
  return `${JSON.stringify({ ...oldMessageMetadata(file.item), ...fields }, null, 2)}\n`;
}
export function oldCloseSidecar(head: string, path: string, sha256: string, bytes: number): string {
  return `${head},\n  "path": ${JSON.stringify(path)},\n  "sha256": ${JSON.stringify(sha256)},\n  "bytes": ${bytes}\n}\n`;
}
