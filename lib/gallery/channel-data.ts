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
export const GALLERY_DATA_VERSION: GalleryDataVersion = 3;

// Within this many bits, two images of a channel are "similar" (the lightbox's list).
export const SIMILAR_DISTANCE = 6;

const THUMB = /^thumbs\/[0-9a-f]{2}\/([0-9a-f]{64})\.webp$/;

// A snowflake as the page can rebuild it with BigInt: digits, no leading zero (else it is written as it is).
const CANONICAL = /^(0|[1-9]\d{0,19})$/;

// The id columns, written small (the page rebuilds them with BigInt, web/unpack.ts): a message id as its
// difference from the previous file's (0: the same message; the first file's from 0), an attachment id as its
// difference from its own message id. A difference is a JSON number only when it is an integer JSON keeps exactly
// (|d| < 2^53) and both ids are canonical; otherwise the id itself as a string, and the next message id counts
// from that one (or, not canonical, is written whole too).
export function packIds(files: readonly { attachment_id: string; message_id: string }[]): Pick<ChannelData['items'], 'attachment_id' | 'message_id'> {
  const attachment_id: Array<string | number> = [];
  const message_id: Array<string | number> = [];
  let previous: bigint | null = 0n;
  for (const file of files) {
    const message = CANONICAL.test(file.message_id) ? BigInt(file.message_id) : null;
    message_id.push(small(message, previous) ?? file.message_id);
    previous = message;
    const attachment = CANONICAL.test(file.attachment_id) ? BigInt(file.attachment_id) : null;
    attachment_id.push(small(attachment, message) ?? file.attachment_id);
  }
  return { attachment_id, message_id };
}

const SAFE = BigInt(Number.MAX_SAFE_INTEGER);

// value - base as a number when both are known and the difference is exact in a double, else null.
function small(value: bigint | null, base: bigint | null): number | null {
  if (value === null || base === null) return null;
  const d = value - base;
  return d <= SAFE && d >= -SAFE ? Number(d) : null;
}

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
  const ids = packIds(files);
  items.attachment_id = ids.attachment_id;
  items.message_id = ids.message_id;
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
