// The gallery's data files (issue 25, README "Gallery"), declared once for the generator that writes them
// (lib/gallery: channel-data.ts, run-gallery.ts) and the page that reads them (web/app.ts). Types only, and
// nothing of Node's or of the DOM's: the page names them through `import('./data-types.js')` types, which emit
// nothing, so it stays one classic script.

// The format's version: the generator writes it and the page refuses another. Both take their constant's type
// from here, so a new version changes them together.
export type GalleryDataVersion = 3;

// One channel's entry in data/index.js.
export interface IndexChannel {
  id: string;
  name: string;
  // forum-post: a thread of a forum or media channel (lib/gallery/records.ts).
  kind: 'channel' | 'thread' | 'forum-post';
  parent_id?: string;
  parent_name?: string;
  count: number;
  first: string; // ISO time of the first file's post
  last: string;
  cover: string | null; // a thumbnail's path relative to the gallery folder
  data: string; // the channel's data file, relative to the gallery folder (data/c-<id>.js)
}

export interface IndexServer {
  id: string;
  name: string;
  channels: IndexChannel[];
}

// data/index.js: window.dpsGallery.index(GalleryIndex).
export interface GalleryIndex {
  version: GalleryDataVersion;
  generated_at: string;
  servers: IndexServer[];
}

export interface GalleryAuthor {
  id: string;
  name: string;
  display: string;
}

// A channel's files as columns: entry i of every array is the i-th file in post order (oldest first).
export interface ChannelItems {
  // Ids as written (lib/gallery/channel-data.ts packIds): a number is a difference, from the previous file's message
  // id (0: the same message; the first file's from 0) or from the file's own message id; a string is the id itself.
  // The page rebuilds both as strings when it loads the file (web/unpack.ts dpsUnpack).
  attachment_id: Array<string | number>;
  message_id: Array<string | number>;
  t: number[]; // the first: seconds since 1970; then the difference from the previous file's
  a: number[]; // index into authors
  x: number[]; // index into texts, -1: no text
  fd: number[]; // index into folders
  n: string[]; // the file's name on disk (the page URL-encodes it)
  o: Array<string | number | null>; // Discord's filename: null n itself, a number k n.slice(k), else the name
  th: Array<string | null>; // the thumbnail's sha256, base64url (43 characters)
  k: number[]; // 0 image, 1 animated image, 2 video, 3 other
  w: number[];
  h: number[];
  d: Array<string | null>; // the attachment's description (alt text)
  s: Array<number[] | null>; // similar images: indices into the columns
}

// data/c-<channel_id>.js: window.dpsGallery.channel(channel_id, ChannelData).
export interface ChannelData {
  version: GalleryDataVersion;
  guild_id: string | null; // null: a DM (the jump URL says @me)
  channel_id: string;
  folders: string[]; // relative to the gallery folder, each component URL-encoded
  authors: GalleryAuthor[];
  texts: string[];
  items: ChannelItems;
}
