// Test galleries for the page (issue 25), written per the generator's contract (data/index.js, data/c-<id>.js,
// thumbs/<sha[0:2]>/<sha>.webp) with real image files made by sharp, plus the built page from dist/web/. The
// gallery lives in <dir>/gallery/ and the archived files beside it in <dir>/<server>/<channel>/, as under --out.

import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import type { Sharp } from 'sharp';
import { ROOT } from '../helpers/harness.js';
import { packIds } from '../../lib/gallery/channel-data.js';

export const CHROMIUM = '/usr/bin/chromium';
export const chromiumMissing = existsSync(CHROMIUM) ? false : `Debian's chromium is not at ${CHROMIUM} (apt-get install -y chromium)`;
export const WEB = join(ROOT, 'dist', 'web');

export interface Author {
  id: string;
  name: string;
  display: string;
}
export interface Item {
  attachment_id: string;
  message_id: string;
  t: number;
  author: number;
  text: string | null;
  name: string;
  kind: 0 | 1 | 2 | 3;
  desc: string | null;
  similar: number[] | null;
}
export interface Channel {
  id: string;
  name: string;
  kind: 'channel' | 'thread' | 'forum-post';
  parent_id?: string;
  parent_name?: string;
  authors: Author[];
  items: Item[];
}
export interface Server {
  id: string;
  name: string;
  channels: Channel[];
}

// A data file's JavaScript: JSON with `<` escaped so `</script` never appears raw.
export const js = (call: string, ...args: unknown[]): string => `${call}(${args.map((a) => JSON.stringify(a).replace(/</g, '\\u003c')).join(', ')});\n`;

// Folder names on disk: the archive's are sanitized; here only '/' needs replacing.
const folderName = (s: string): string => s.replace(/\//g, '_');
const encodePath = (...parts: string[]): string => parts.map(encodeURIComponent).join('/');

// Copies the built page (npm run build) into the gallery folder.
export function copyPage(gallery: string): void {
  mkdirSync(gallery, { recursive: true });
  for (const f of ['index.html', 'unpack.js', 'app.js', 'app.css']) copyFileSync(join(WEB, f), join(gallery, f));
}

// A distinct, recognisable picture per item: a colour from its number, with a lighter band.
function picture(n: number, width = 96, height = 64): Sharp {
  const r = (n * 67) % 256;
  const g = (n * 131 + 80) % 256;
  const b = (n * 29 + 160) % 256;
  const band = Buffer.from(
    `<svg width="${width}" height="${height}"><rect x="0" y="${height / 3}" width="${width}" height="${height / 3}" fill="white" fill-opacity="0.5"/></svg>`,
  );
  return sharp({ create: { width, height, channels: 3, background: { r, g, b } } }).composite([{ input: band }]);
}

async function original(item: Item, n: number): Promise<Buffer> {
  if (item.kind === 0) return item.name.toLowerCase().endsWith('.jpg') ? picture(n).jpeg().toBuffer() : picture(n).png().toBuffer();
  if (item.kind === 1) return picture(n).gif().toBuffer();
  return Buffer.from(`not an image: ${item.name}\n`);
}

// The gallery data's version (data files of version 3: folders + fd + n, thumbnails by sha256, no jump URL, ids
// as differences).
export const VERSION = 3;
export const thumbPath = (sha: string): string => `thumbs/${sha.slice(0, 2)}/${sha}.webp`;
// The data files hold a thumbnail's sha256 in base64url.
export const b64 = (sha: string): string => Buffer.from(sha, 'hex').toString('base64url');
// The data files store post times as differences from the previous file's, and the ids as the generator packs
// them (lib/gallery/channel-data.ts packIds: the generator's own code, so the page is tested against it).
export function compact(items: { t: number[]; message_id: Array<string | number>; attachment_id: Array<string | number> }): void {
  for (let i = items.t.length - 1; i > 0; i--) items.t[i]! -= items.t[i - 1]!;
  const ids = packIds(items.message_id.map((m, i) => ({ message_id: String(m), attachment_id: String(items.attachment_id[i]) })));
  items.message_id = ids.message_id;
  items.attachment_id = ids.attachment_id;
}

// Writes a thumbnail for `bytes` and returns its sha256 hex.
export async function thumbFor(gallery: string, bytes: Buffer, n: number): Promise<string> {
  const sha = createHash('sha256').update(bytes).digest('hex');
  mkdirSync(join(gallery, 'thumbs', sha.slice(0, 2)), { recursive: true });
  writeFileSync(join(gallery, thumbPath(sha)), await picture(n).resize({ width: 320 }).webp().toBuffer());
  return sha;
}

// Writes the whole gallery under <dir>/gallery and returns its folder.
export async function writeGallery(dir: string, servers: Server[]): Promise<string> {
  const gallery = join(dir, 'gallery');
  copyPage(gallery);
  mkdirSync(join(gallery, 'data'), { recursive: true });
  let n = 0;
  const index = { version: VERSION, generated_at: new Date(0).toISOString(), servers: [] as unknown[] };
  for (const server of servers) {
    const channels: unknown[] = [];
    for (const ch of server.channels) {
      const folder = join(dir, folderName(server.name), folderName(ch.name));
      mkdirSync(folder, { recursive: true });
      const texts: string[] = [];
      const cols = { attachment_id: [], message_id: [], t: [], a: [], x: [], fd: [], n: [], o: [], th: [], k: [], w: [], h: [], d: [], s: [] } as Record<
        string,
        unknown[]
      >;
      let cover: string | null = null;
      for (const item of ch.items) {
        const bytes = await original(item, n);
        writeFileSync(join(folder, item.name), bytes);
        const th = item.kind <= 1 ? await thumbFor(gallery, bytes, n) : null;
        cover ??= th === null ? null : thumbPath(th);
        n++;
        let x = -1;
        if (item.text !== null) {
          x = texts.indexOf(item.text);
          if (x < 0) x = texts.push(item.text) - 1;
        }
        cols.attachment_id!.push(item.attachment_id);
        cols.message_id!.push(item.message_id);
        cols.t!.push(item.t);
        cols.a!.push(item.author);
        cols.x!.push(x);
        cols.fd!.push(0);
        cols.n!.push(item.name);
        cols.o!.push(null);
        cols.th!.push(th === null ? null : b64(th));
        cols.k!.push(item.kind);
        cols.w!.push(item.kind <= 1 ? 96 : 0);
        cols.h!.push(item.kind <= 1 ? 64 : 0);
        cols.d!.push(item.desc);
        cols.s!.push(item.similar);
      }
      compact(cols as Parameters<typeof compact>[0]);
      writeFileSync(
        join(gallery, 'data', `c-${ch.id}.js`),
        js('window.dpsGallery.channel', ch.id, {
          version: VERSION,
          guild_id: server.id,
          channel_id: ch.id,
          folders: [`../${encodePath(folderName(server.name), folderName(ch.name))}`],
          authors: ch.authors,
          texts,
          items: cols,
        }),
      );
      const ts = ch.items.map((i) => i.t);
      channels.push({
        id: ch.id,
        name: ch.name,
        kind: ch.kind,
        ...(ch.parent_id ? { parent_id: ch.parent_id, parent_name: ch.parent_name } : {}),
        count: ch.items.length,
        first: new Date(Math.min(...ts) * 1000).toISOString(),
        last: new Date(Math.max(...ts) * 1000).toISOString(),
        cover,
        data: `data/c-${ch.id}.js`,
      });
    }
    index.servers.push({ id: server.id, name: server.name, channels });
  }
  writeFileSync(join(gallery, 'data', 'index.js'), js('window.dpsGallery.index', index));
  return gallery;
}

// The demo gallery the page tests use: two servers, a channel with a thread, three authors, texts that repeat,
// a hostile text and hostile names, every kind of file, similar images, items over four months.
export const HOSTILE_TEXT = '<img src=x onerror="window.__pwned=1"></script><b>bold?</b>';
export function demoServers(): Server[] {
  const authors: Author[] = [
    { id: '501', name: 'alice', display: 'Alice A.' },
    { id: '502', name: 'bob', display: 'Bob' },
    { id: '503', name: 'carol', display: '' },
  ];
  const texts = ['Sunset at the beach', 'my CAT sleeping', 'cat and dog', null, HOSTILE_TEXT, 'a dog in the snow'];
  const base = Date.UTC(2024, 0, 3) / 1000;
  const photos: Item[] = [];
  for (let i = 0; i < 30; i++) {
    const kind: Item['kind'] = i === 7 ? 1 : i === 12 ? 2 : i === 20 ? 3 : 0;
    const ext = kind === 1 ? 'gif' : kind === 2 ? 'mp4' : kind === 3 ? 'pdf' : i % 2 ? 'jpg' : 'png';
    photos.push({
      attachment_id: String(9000 + i),
      message_id: String(8000 + Math.floor(i / 2)),
      t: base + i * 4 * 86400 + 3600,
      author: i % 3,
      text: texts[i % texts.length]!,
      name: `photo-${String(i).padStart(2, '0')}.${ext}`,
      kind,
      desc: i === 3 ? 'A red kite over the hill' : null,
      similar: i === 0 ? [2] : i === 2 ? [0] : null,
    });
  }
  const trip: Item[] = [0, 1, 2, 3, 4].map((i) => ({
    attachment_id: String(9100 + i),
    message_id: String(8100 + i),
    t: base + 200 * 86400 + i * 60,
    author: i % 2,
    text: `trip day ${i}`,
    name: `trip ${i}.png`,
    kind: 0,
    desc: null,
    similar: null,
  }));
  const memes: Item[] = ['café #1 %.png', 'über 100%?.jpg', 'x&y=z.png', '..bad name .png'].map((name, i) => ({
    attachment_id: String(9200 + i),
    message_id: String(8200 + i),
    t: base + 400 * 86400 + i * 86400,
    author: 0,
    text: i === 0 ? 'ünïcode café' : null,
    name,
    kind: 0,
    desc: null,
    similar: null,
  }));
  return [
    {
      id: '100',
      name: 'Demo Server',
      channels: [
        { id: '1001', name: 'photos', kind: 'channel', authors, items: photos },
        { id: '1002', name: 'trip', kind: 'thread', parent_id: '1001', parent_name: 'photos', authors, items: trip },
      ],
    },
    { id: '200', name: 'Second <b>Server</b> #2', channels: [{ id: '2001', name: 'memes & more', kind: 'channel', authors, items: memes }] },
  ];
}
