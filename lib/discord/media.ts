// The downloadable files of one message: attachments, forwarded attachments (message_snapshots),
// Components-V2 media, and optionally embed media and stickers (docs/discord-api.md#where-files-live-in-a-message).

import { createHash } from 'node:crypto';
import type { APIAttachment, APIEmbed, APIMessage } from 'discord-api-types/v10';
import type { MediaSource } from '../types.js';
import { isSnowflake } from '../util/snowflake.js';

export interface MediaOptions {
  embeds?: boolean; // also embed image/thumbnail/video media
  stickers?: boolean; // also sticker images
  cdn?: string; // CDN base for stickers (https://cdn.discordapp.com)
  discordHosts?: readonly string[]; // hosts whose embed `url` is the original file
}

// One file found in a message.
export interface MediaCandidate {
  id: string;
  filename: string;
  size: number | undefined;
  content_type: string | undefined;
  url: string;
  source: MediaSource;
  width?: number | undefined; // pixels, for images and videos when Discord says
  height?: number | undefined;
  description?: string | undefined; // alt text
  spoiler?: boolean | undefined; // flagged IS_SPOILER (1 << 3) or named SPOILER_... (docs/discord-api.md#spoilers)
  // Set when Discord sent an attachment that cannot be fetched (not an object, no valid id, a url that is not an
  // http(s) string): the item is reported `failed` with reason `invalid_attachment` instead of vanishing.
  invalid?: string;
}

const DEFAULT_DISCORD_HOSTS = ['cdn.discordapp.com', 'media.discordapp.net'];

// Every file of a message, without duplicates (the same file can be an attachment and an embed).
export function mediaOf(message: APIMessage, options: MediaOptions = {}): MediaCandidate[] {
  const out: MediaCandidate[] = [];
  const seen = new Set<string>();
  const add = (candidate: MediaCandidate | undefined): void => {
    if (candidate?.invalid !== undefined) {
      if (!seen.has(candidate.id)) out.push(candidate);
      seen.add(candidate.id);
      return;
    }
    if (!candidate?.url) return;
    const path = urlPath(candidate.url);
    if (seen.has(candidate.id) || seen.has(path)) return;
    seen.add(candidate.id);
    seen.add(path);
    out.push(candidate);
  };
  for (const [index, attachment] of arrayOf<APIAttachment>(message.attachments).entries()) add(checkedAttachment(message, attachment, index, 'attachment'));
  for (const [s, snapshot] of arrayOf<{ message?: Partial<APIMessage> }>(message.message_snapshots).entries()) {
    for (const [index, attachment] of arrayOf<APIAttachment>(snapshot.message?.attachments).entries())
      add(checkedAttachment(message, attachment, index, 'forward', s));
    if (options.embeds) for (const embed of arrayOf<APIEmbed>(snapshot.message?.embeds)) for (const c of fromEmbed(embed, options)) add(c);
  }
  for (const media of componentMedia(message.components)) add(media);
  if (options.embeds) for (const embed of arrayOf<APIEmbed>(message.embeds)) for (const c of fromEmbed(embed, options)) add(c);
  if (options.stickers) {
    for (const sticker of arrayOf<{ id?: unknown; name?: unknown; format_type?: unknown }>(message.sticker_items)) add(fromSticker(sticker, options));
  }
  return out;
}

// An attachment as Discord should send it, or a candidate marked `invalid` saying what is wrong with it.
function checkedAttachment(message: APIMessage, attachment: APIAttachment, index: number, source: MediaSource, snapshot = 0): MediaCandidate | undefined {
  const where = `${source} ${index + 1} of message ${message.id}`;
  const invalid = (id: string, detail: string): MediaCandidate => ({
    id,
    filename: typeof attachment?.filename === 'string' && attachment.filename ? attachment.filename : `attachment_${id}`,
    size: undefined,
    content_type: typeof attachment?.content_type === 'string' ? attachment.content_type : undefined,
    url: '',
    source,
    invalid: detail,
  });
  const synthetic = (): string => syntheticId('invalid', `${message.id}/${source}/${snapshot}/${index}`);
  if (attachment === null || typeof attachment !== 'object' || Array.isArray(attachment)) return invalid(synthetic(), `${where} is not an attachment object`);
  if (typeof attachment.id !== 'string' || !isSnowflake(attachment.id) || attachment.id === '0')
    return invalid(synthetic(), `${where} has no valid id (${JSON.stringify(attachment.id)?.slice(0, 40) ?? 'none'})`);
  if (typeof attachment.url !== 'string' || !isHttpUrl(attachment.url)) {
    const shown = typeof attachment.url === 'string' ? `"${attachment.url.slice(0, 40)}"` : `a ${attachment.url === null ? 'null' : typeof attachment.url}`;
    return invalid(attachment.id, `${where}: its url is ${shown}, not an http(s) URL`);
  }
  return fromAttachment(attachment, source);
}

function isHttpUrl(url: string): boolean {
  try {
    const { protocol } = new URL(url);
    return protocol === 'https:' || protocol === 'http:';
  } catch {
    return false;
  }
}

function fromAttachment(attachment: APIAttachment, source: MediaSource): MediaCandidate | undefined {
  if (typeof attachment?.id !== 'string' || typeof attachment.url !== 'string') return undefined;
  return {
    id: attachment.id,
    filename: typeof attachment.filename === 'string' && attachment.filename ? attachment.filename : `attachment_${attachment.id}`,
    size: Number.isSafeInteger(attachment.size) && attachment.size >= 0 ? attachment.size : undefined,
    content_type: typeof attachment.content_type === 'string' ? attachment.content_type : undefined,
    url: attachment.url,
    source,
    width: dimension(attachment.width),
    height: dimension(attachment.height),
    description: typeof attachment.description === 'string' && attachment.description !== '' ? attachment.description : undefined,
    spoiler: isSpoiler(attachment),
  };
}

// Attachment flag IS_SPOILER; the legacy SPOILER_ file name prefix still marks one too (not every spoiler has it).
const IS_SPOILER = 1 << 3;

function isSpoiler(attachment: APIAttachment): boolean {
  const flags = (attachment as { flags?: unknown }).flags;
  return (typeof flags === 'number' && (flags & IS_SPOILER) !== 0) || (typeof attachment.filename === 'string' && attachment.filename.startsWith('SPOILER_'));
}

// A width or height as Discord sends it (null or absent for files that are not images or videos).
function dimension(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? value : undefined;
}

// Media items of Components-V2 layouts (media gallery, thumbnail, file), found at any nesting depth.
function componentMedia(components: unknown): MediaCandidate[] {
  const out: MediaCandidate[] = [];
  const visit = (node: unknown, depth: number): void => {
    if (!node || typeof node !== 'object' || depth > 10) return;
    if (Array.isArray(node)) {
      for (const child of node) visit(child, depth + 1);
      return;
    }
    const record = node as Record<string, unknown>;
    for (const media of [record.media, record.file]) {
      const item = media as { url?: unknown; attachment_id?: unknown; content_type?: unknown } | undefined;
      if (item && typeof item.url === 'string' && /^https?:/.test(item.url)) {
        out.push({
          id: typeof item.attachment_id === 'string' ? item.attachment_id : syntheticId('component', item.url),
          filename: nameFromUrl(item.url),
          size: undefined,
          content_type: typeof item.content_type === 'string' ? item.content_type : undefined,
          url: item.url,
          source: 'component',
          // Issue 23 (metadata): the unfurled media's size in pixels, the gallery item's alt text and spoiler mark.
          width: dimension((item as { width?: unknown }).width),
          height: dimension((item as { height?: unknown }).height),
          description: typeof record.description === 'string' && record.description !== '' ? record.description : undefined,
          spoiler: record.spoiler === true,
        });
      }
    }
    for (const key of ['components', 'items', 'accessory']) visit(record[key], depth + 1);
  };
  visit(components, 0);
  return out;
}

// Embed media: the original `url` for Discord-hosted files, the `proxy_url` copy for external ones.
function fromEmbed(embed: APIEmbed, options: MediaOptions): MediaCandidate[] {
  const hosts = options.discordHosts ?? DEFAULT_DISCORD_HOSTS;
  const out: MediaCandidate[] = [];
  for (const media of [embed?.image, embed?.thumbnail, embed?.video]) {
    if (!media || typeof media.url !== 'string') continue;
    const hosted = isHost(media.url, hosts);
    const url = hosted ? media.url : typeof media.proxy_url === 'string' ? media.proxy_url : media.url;
    if (!/^https?:/.test(url)) continue;
    const contentType = (media as { content_type?: unknown }).content_type;
    out.push({
      id: attachmentIdOf(media.url) ?? syntheticId('embed', media.url),
      filename: nameFromUrl(media.url),
      size: undefined,
      content_type: typeof contentType === 'string' ? contentType : undefined,
      url,
      source: 'embed',
      width: dimension((media as { width?: unknown }).width),
      height: dimension((media as { height?: unknown }).height),
    });
  }
  return out;
}

function fromSticker(sticker: { id?: unknown; name?: unknown; format_type?: unknown }, options: MediaOptions): MediaCandidate | undefined {
  if (typeof sticker.id !== 'string' || !/^\d+$/.test(sticker.id)) return undefined;
  const base = (options.cdn ?? 'https://cdn.discordapp.com').replace(/\/+$/, '');
  const format = Number(sticker.format_type);
  const ext = format === 3 ? 'json' : format === 4 ? 'gif' : 'png';
  const type = format === 3 ? 'application/json' : format === 4 ? 'image/gif' : format === 2 ? 'image/apng' : 'image/png';
  const name = typeof sticker.name === 'string' && sticker.name ? sticker.name : 'sticker';
  return {
    id: `sticker-${sticker.id}`,
    filename: `${name}.${ext}`,
    size: undefined,
    content_type: type,
    url: `${base}/stickers/${sticker.id}.${ext}`,
    source: 'sticker',
  };
}

function arrayOf<T>(value: unknown): T[] {
  return Array.isArray(value) ? (value as T[]) : [];
}

function urlPath(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return url;
  }
}

function isHost(url: string, hosts: readonly string[]): boolean {
  try {
    return hosts.includes(new URL(url).host) || hosts.includes(new URL(url).hostname);
  } catch {
    return false;
  }
}

// Discord-hosted attachment URLs carry the attachment id: /attachments/{channel}/{attachment}/{name}.
function attachmentIdOf(url: string): string | undefined {
  return /\/attachments\/\d+\/(\d+)\//.exec(urlPath(url))?.[1];
}

function syntheticId(kind: string, url: string): string {
  return `${kind}-${createHash('sha256').update(urlPath(url)).digest('hex').slice(0, 24)}`;
}

function nameFromUrl(url: string): string {
  const last = urlPath(url).split('/').filter(Boolean).pop() ?? 'file';
  try {
    return decodeURIComponent(last) || 'file';
  } catch {
    return last;
  }
}
