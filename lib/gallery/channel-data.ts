// A channel's gallery data (data/c-<id>.js): columnar arrays, one entry per archived file in post order, with
// authors, message texts and folders listed once each (the contract: README "Gallery", 200,000 files under 40 MB).
// What the page can derive is not stored: the jump URL (from guild_id, channel_id and message_id), the thumbnail's
// path (from its sha256), the file's URL (folder + file name).

import type { ChannelData, GalleryDataVersion } from '../../web/data-types.js';
import { neighbours } from './groups.js';

// The format, shared with the page: web/data-types.ts.
export type { ChannelData } from '../../web/data-types.js';

// What the gallery knows of one archived file (records.ts reads it from the state; run-gallery adds the rest).
export interface GalleryFile {
  attachment_id: string;
  message_id: string;
  t: number; // post time, seconds since 1970
  author_id: string;
  author_name: string;
  author_display: string;
  content: string;
  f: string; // the file's URL relative to the gallery folder, each component URL-encoded
  n: string; // Discord's filename
  th: string | null; // the thumbnail's path relative to the gallery folder (thumbs/<sha[0:2]>/<sha>.webp)
  k: number;
  w: number;
  h: number;
  d: string | null;
  hash: string | null; // dHash
}

// The data files' format; the page refuses any other (the generator rewrites every data file at once).
export const GALLERY_DATA_VERSION: GalleryDataVersion = 2;

// Within this many bits, two images of a channel are "similar" (the lightbox's list).
export const SIMILAR_DISTANCE = 6;

const THUMB = /^thumbs\/[0-9a-f]{2}\/([0-9a-f]{64})\.webp$/;

// `files` in post order (oldest first), all of the channel `where`.
export function channelData(files: readonly GalleryFile[], where: { guild_id: string | null; channel_id: string }): ChannelData {
  const folders: string[] = [];
  const folderIndex = new Map<string, number>();
  const authors: ChannelData['authors'] = [];
  const authorIndex = new Map<string, number>();
  const texts: string[] = [];
  const textIndex = new Map<string, number>();
  const items: ChannelData['items'] = {
    attachment_id: [],
    message_id: [],
    t: [],
    a: [],
    x: [],
    fd: [],
    n: [],
    o: [],
    th: [],
    k: [],
    w: [],
    h: [],
    d: [],
    s: [],
  };
  let previousMessage: string | null = null;
  let previousTime = 0;
  for (const file of files) {
    let a = authorIndex.get(file.author_id);
    if (a === undefined) {
      a = authors.push({ id: file.author_id, name: file.author_name, display: file.author_display }) - 1;
      authorIndex.set(file.author_id, a);
    }
    let x = -1;
    if (file.content !== '') {
      x = textIndex.get(file.content) ?? -1;
      if (x === -1) {
        x = texts.push(file.content) - 1;
        textIndex.set(file.content, x);
      }
    }
    items.attachment_id.push(file.attachment_id);
    items.message_id.push(file.message_id === previousMessage ? '' : file.message_id);
    previousMessage = file.message_id;
    items.t.push(file.t - previousTime);
    previousTime = file.t;
    items.a.push(a);
    items.x.push(x);
    const slash = file.f.lastIndexOf('/');
    const folder = slash < 0 ? '' : file.f.slice(0, slash);
    let fd = folderIndex.get(folder);
    if (fd === undefined) {
      fd = folders.push(folder) - 1;
      folderIndex.set(folder, fd);
    }
    const name = decodeURIComponent(file.f.slice(slash + 1));
    items.fd.push(fd);
    items.n.push(name);
    items.o.push(file.n === name ? null : name.endsWith(file.n) && file.n !== '' ? name.length - file.n.length : file.n);
    const sha = file.th === null ? undefined : THUMB.exec(file.th)?.[1];
    items.th.push(sha === undefined ? null : Buffer.from(sha, 'hex').toString('base64url'));
    items.k.push(file.k);
    items.w.push(file.w);
    items.h.push(file.h);
    items.d.push(file.d);
  }
  items.s = neighbours(
    files.map((file) => file.hash),
    SIMILAR_DISTANCE,
  );
  return { version: GALLERY_DATA_VERSION, guild_id: where.guild_id, channel_id: where.channel_id, folders, authors, texts, items };
}
