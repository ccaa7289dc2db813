// The gallery page's 200,000-image archive (issue 25), written directly instead of scraped (a scrape of 200,000
// files from the fake took longer than the bench has): what a real scrape and a real first `dps gallery` leave
// behind. A small channel is scraped from the fake for real; its channel record and attachment records are the
// templates; then for each of `n` messages (one image each, ids and times ascending, texts made the fake's way)
// a distinct 64x48 PNG is written at the path the default name pattern gives, its record saved through the
// store's own recordSaved (as the write stage does), and what `dps gallery` would make of it: the WebP thumbnail
// at thumbs/<sha256>.webp and the state's gallery entry (dHash, size, kind). The thumbnail and the entry come
// from the picture's pixels exactly as lib/gallery/thumbnail.ts derives them (a 64x48 picture is not resized:
// the same pixels are hashed and encoded with the same settings), and a sample of files is decoded by the real
// decodeFile and must give the same entry and the same thumbnail bytes. Built once per machine and size (a
// folder in the temp dir, reused once complete); `dps gallery` then runs over it for real (pageArchive's caller).

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { hash32 } from '../fixtures/ids.js';
import { WORDS } from '../fixtures/random-specs.js';
import { dhashOf, gray9x8 } from '../lib/gallery/dhash.js';
import { thumbPath } from '../lib/gallery/decode-missing.js';
import { decodeFile } from '../lib/gallery/thumbnail.js';
import { openStore } from '../lib/store/open.js';
import type { GalleryEntry, SavedRecord } from '../lib/store/store.js';
import type { AttachmentRecord, ChannelRecord } from '../lib/types.js';
import { DISCORD_EPOCH } from '../lib/util/snowflake.js';
import { channelArgs, log, runDps, scratch, startFake } from './common.js';

const WIDTH = 64;
const HEIGHT = 48;
// Change it whenever the archive's bytes or records change for the same n (a complete folder is reused).
const ARCHIVE_VERSION = 1;
const COMPLETE = 'COMPLETE';

export interface PageArchive {
  out: string;
  state: string;
  galleryDir: string;
  channelId: string;
  buildMs: number; // 0: reused
}

// The archive of `n` images, built now or reused.
export async function pageArchive(n: number): Promise<PageArchive> {
  const root = join(tmpdir(), `dps-bench-gallery-archive-v${ARCHIVE_VERSION}-${n}`);
  const out = join(root, 'out');
  const state = join(root, 'state');
  const galleryDir = join(root, 'gallery');
  if (existsSync(join(root, COMPLETE))) {
    const { channelId } = JSON.parse(readFileSync(join(root, COMPLETE), 'utf8')) as { channelId: string };
    log(`gallery page: reusing the ${n}-image archive in ${root}`);
    return { out, state, galleryDir, channelId, buildMs: 0 };
  }
  rmSync(root, { recursive: true, force: true }); // an unfinished build
  mkdirSync(root, { recursive: true });
  const started = performance.now();
  const channelId = await build(n, { out, state, galleryDir });
  writeFileSync(join(root, COMPLETE), JSON.stringify({ channelId, n }));
  const buildMs = performance.now() - started;
  log(`gallery page: ${n}-image archive written in ${(buildMs / 1000).toFixed(0)} s (${root})`);
  return { out, state, galleryDir, channelId, buildMs };
}

// A real scrape of a small channel: its channel record and saved records, and the --out they were saved under.
async function templates(): Promise<{ channel: ChannelRecord; records: AttachmentRecord[]; out: string }> {
  const fake = await startFake({ scenario: { kind: 'channel', messages: 40, imageRatio: 1, sizes: [200, 400] }, options: { rateLimit: { off: true } } });
  const dir = await scratch('gallery-template');
  try {
    const run = await runDps(fake, channelArgs(fake, dir));
    if (run.code !== 0) throw new Error(`the template scrape exited ${run.code}: ${run.stderr}`);
    const store = await openStore(dir.state, { mustExist: true });
    try {
      const records: AttachmentRecord[] = [];
      for await (const record of store.attachments({ channelId: fake.channel_ids[0]! })) if (record.status === 'saved') records.push(record);
      const channel = await store.getChannel(fake.channel_ids[0]!);
      if (channel === undefined || records.length === 0) throw new Error('the template scrape saved nothing');
      return { channel, records, out: dir.out };
    } finally {
      await store.close();
    }
  } finally {
    dir.cleanup();
    await fake.close();
  }
}

// Picture i's pixels (RGB): 8x6 colour blocks from sha256 of i, spread smoothly (bilinear) over 64x48.
export function pixels(i: number): Buffer {
  const blocks = Buffer.alloc(8 * 6 * 3);
  for (let at = 0, round = 0; at < blocks.length; round++) at += createHash('sha256').update(`page ${i}/${round}`).digest().copy(blocks, at);
  const out = Buffer.alloc(WIDTH * HEIGHT * 3);
  for (let y = 0; y < HEIGHT; y++) {
    const fy = Math.min(5, Math.max(0, (y + 0.5) / 8 - 0.5));
    const y0 = Math.floor(fy);
    const y1 = Math.min(5, y0 + 1);
    const wy = fy - y0;
    for (let x = 0; x < WIDTH; x++) {
      const fx = Math.min(7, Math.max(0, (x + 0.5) / 8 - 0.5));
      const x0 = Math.floor(fx);
      const x1 = Math.min(7, x0 + 1);
      const wx = fx - x0;
      for (let c = 0; c < 3; c++) {
        const at = (bx: number, by: number): number => blocks[(by * 8 + bx) * 3 + c]!;
        const top = at(x0, y0) * (1 - wx) + at(x1, y0) * wx;
        const bottom = at(x0, y1) * (1 - wx) + at(x1, y1) * wx;
        out[(y * WIDTH + x) * 3 + c] = Math.round(top * (1 - wy) + bottom * wy);
      }
    }
  }
  return out;
}

// A PNG (8-bit RGB, no filter, zlib level 6) of raw pixels.
export function png(raw: Buffer, width = WIDTH, height = HEIGHT): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, 'latin1');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
    return Buffer.concat([head, data, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const rows = Buffer.alloc(height * (width * 3 + 1));
  for (let y = 0; y < height; y++) raw.copy(rows, y * (width * 3 + 1) + 1, y * width * 3, (y + 1) * width * 3);
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(rows)), chunk('IEND', Buffer.alloc(0))]);
}

// What `dps gallery` makes of picture i: its thumbnail's bytes and its entry (thumbnail.ts: no resize below 320 px).
async function thumbnail(raw: Buffer): Promise<{ webp: Buffer; entry: GalleryEntry }> {
  const webp = await sharp(raw, { raw: { width: WIDTH, height: HEIGHT, channels: 3 } })
    .webp({ quality: 75 })
    .toBuffer();
  return { webp, entry: { d: dhashOf(gray9x8(raw, WIDTH, HEIGHT, 3)), w: WIDTH, h: HEIGHT, k: 0 } };
}

// A message's text the fake's way (fixtures/generate.ts): 2-9 of its words.
function text(i: number): string {
  const n = 2 + (hash32(7, 1, i, 5) % 8);
  return Array.from({ length: n }, (_, w) => WORDS[hash32(7, 1, i, 100 + w) % WORDS.length]).join(' ');
}

async function build(n: number, where: { out: string; state: string; galleryDir: string }): Promise<string> {
  const template = await templates();
  const channelId = template.channel.channel_id;
  const folder = join(where.out, relative(template.out, dirname(template.records[0]!.path!)));
  await mkdir(folder, { recursive: true });
  sharp.cache(false);
  const store = await openStore(where.state);
  const startMs = Date.parse(template.records[0]!.timestamp);
  let lastId = '';
  try {
    await store.putChannel({ ...template.channel, last_message_id: undefined, total_images: 0, failed: 0, last_updated: new Date().toISOString() });
    let next = 0;
    let done = 0;
    const lane = async (): Promise<void> => {
      const entries: Array<readonly [string, GalleryEntry]> = [];
      const saves: Promise<void>[] = [];
      for (let i = next++; i < n; i = next++) {
        const like = template.records[i % template.records.length]!;
        const ms = startMs + i * 300_000; // a file every 5 minutes: 200,000 span almost two years
        const id = (((BigInt(ms) - DISCORD_EPOCH) << 22n) | BigInt(i & 0xfff)).toString();
        const raw = pixels(i);
        const bytes = png(raw);
        const sha256 = createHash('sha256').update(bytes).digest('hex');
        const filename = `IMG_${20200000 + i}.png`;
        const timestamp = new Date(ms).toISOString().replace('Z', '000+00:00'); // as Discord writes it
        const path = join(folder, `${timestamp.slice(0, 10)}_${id}_${filename}`);
        await writeFile(path, bytes);
        const record: SavedRecord = {
          ...like,
          attachment_id: id,
          message_id: id,
          filename,
          content_type: 'image/png',
          timestamp,
          content: text(i),
          width: WIDTH,
          height: HEIGHT,
          description: i % 11 === 0 ? `alt text for message ${i}` : undefined,
          jump_url: `https://discord.com/channels/${like.guild_id}/${channelId}/${id}`,
          path,
          sha256,
          bytes: bytes.length,
          updated_at: new Date().toISOString(),
          status: 'saved',
        };
        if (record.description === undefined) delete record.description;
        saves.push(store.recordSaved(record, { newHash: true, ownsPath: true }));
        const made = await thumbnail(raw);
        const thumb = join(where.galleryDir, thumbPath(sha256));
        await mkdir(dirname(thumb), { recursive: true });
        await writeFile(thumb, made.webp);
        entries.push([sha256, made.entry]);
        if (entries.length >= 256) {
          await Promise.all([...saves.splice(0), store.saveGalleryEntries(entries.splice(0))]);
        }
        if (i === n - 1) lastId = id;
        if (++done % 20_000 === 0) log(`gallery page: ${done} of ${n} files written`);
      }
      await Promise.all([...saves, store.saveGalleryEntries(entries)]);
    };
    await Promise.all(Array.from({ length: 4 }, lane));
    await store.advanceCursor(channelId, lastId);
  } finally {
    await store.close();
  }
  await verify(n, where.galleryDir);
  return channelId;
}

// A sample of the files decoded as `dps gallery` decodes them (lib/gallery/thumbnail.ts): the same entry and the
// same thumbnail bytes as written, or the build fails.
async function verify(n: number, galleryDir: string): Promise<void> {
  const temp = join(galleryDir, 'thumbs', '.verify');
  await mkdir(temp, { recursive: true });
  try {
    for (let i = 0; i < n; i += Math.max(1, Math.floor(n / 20))) {
      const raw = pixels(i);
      const bytes = png(raw);
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      const file = join(temp, `${i}.png`);
      await writeFile(file, bytes);
      const decoded = await decodeFile(file, join(temp, `${i}.webp`), temp);
      const written = await thumbnail(raw);
      const same = readFileSync(join(temp, `${i}.webp`)).equals(readFileSync(join(galleryDir, thumbPath(sha256))));
      if (JSON.stringify(decoded) !== JSON.stringify(written.entry) || !same)
        throw new Error(
          `picture ${i}: decodeFile gives ${JSON.stringify(decoded)} (thumbnail ${same ? 'same' : 'different'}), the archive ${JSON.stringify(written.entry)}`,
        );
    }
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
}
