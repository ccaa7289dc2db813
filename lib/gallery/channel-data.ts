// A channel's gallery data (data/c-<id>.js): columnar arrays, one entry per archived file in post order, with
// authors and message texts listed once each (the contract: README "Gallery", 200,000 files under 40 MB).

import { neighbours } from './groups.js';

// What the gallery knows of one archived file (records.ts reads it from the state; run-gallery adds the rest).
export interface GalleryFile {
  attachment_id: string;
  message_id: string;
  t: number; // post time, seconds since 1970
  author_id: string;
  author_name: string;
  author_display: string;
  content: string;
  f: string; // the file's URL relative to the gallery folder
  n: string;
  th: string | null;
  k: number;
  w: number;
  h: number;
  d: string | null;
  j: string;
  hash: string | null; // dHash
}

export interface ChannelData {
  version: 1;
  authors: Array<{ id: string; name: string; display: string }>;
  texts: string[];
  items: {
    attachment_id: string[];
    message_id: string[];
    t: number[];
    a: number[];
    x: number[];
    f: string[];
    n: string[];
    th: Array<string | null>;
    k: number[];
    w: number[];
    h: number[];
    d: Array<string | null>;
    j: string[];
    s: Array<number[] | null>;
  };
}

// Within this many bits, two images of a channel are "similar" (the lightbox's list).
export const SIMILAR_DISTANCE = 6;

// `files` in post order (oldest first).
export function channelData(files: readonly GalleryFile[]): ChannelData {
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
    f: [],
    n: [],
    th: [],
    k: [],
    w: [],
    h: [],
    d: [],
    j: [],
    s: [],
  };
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
    items.message_id.push(file.message_id);
    items.t.push(file.t);
    items.a.push(a);
    items.x.push(x);
    items.f.push(file.f);
    items.n.push(file.n);
    items.th.push(file.th);
    items.k.push(file.k);
    items.w.push(file.w);
    items.h.push(file.h);
    items.d.push(file.d);
    items.j.push(file.j);
  }
  items.s = neighbours(
    files.map((file) => file.hash),
    SIMILAR_DISTANCE,
  );
  return { version: 1, authors, texts, items };
}
