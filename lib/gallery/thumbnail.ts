// One file, decoded once: its thumbnail (WebP, 320 px on the long side, EXIF orientation applied, the first frame
// of an animation) written atomically to a content-addressed path, and its dHash from the thumbnail's pixels.

import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import type { Sharp } from 'sharp';
import { dhashOf, gray9x8 } from './dhash.js';

export const THUMB_SIZE = 320;

// What decoding found: the dHash (16 hex digits), the size after rotation, 1 for an animation (0 otherwise).
export interface Decoded {
  d: string;
  w: number;
  h: number;
  k: number;
}

// Decodes `file` once into the thumbnail's pixels; the dHash comes from them, and with `thumb` (the final path)
// they are encoded to WebP through a temp file in `tempDir` and a rename (a thumbnail is derived data:
// replacing one is fine). Rejects for a file it cannot decode.
export async function decodeFile(file: string, thumb: string | null, tempDir: string): Promise<Decoded> {
  const image = sharp(file, { failOn: 'error' }); // the first page (frame) only
  const meta = await image.metadata();
  const animated = (meta.pages ?? 1) > 1;
  const turned = (meta.orientation ?? 1) >= 5; // EXIF orientations 5 to 8 swap width and height
  const width = meta.width ?? 0;
  const height = meta.pageHeight ?? meta.height ?? 0;
  const { data, info } = await image
    .rotate()
    .resize(THUMB_SIZE, THUMB_SIZE, { fit: 'inside', withoutEnlargement: true })
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  const raw = { raw: { width: info.width, height: info.height, channels: info.channels } };
  // The encoder runs on libuv's pool while this thread computes the hash.
  const written = thumb === null ? undefined : writeThumb(sharp(data, raw).webp({ quality: 75 }), thumb, tempDir);
  const d = dhashOf(gray9x8(data, info.width, info.height, info.channels));
  await written;
  return { d, w: turned ? height : width, h: turned ? width : height, k: animated ? 1 : 0 };
}

// The encoded thumbnail to a temp file, then renamed to `thumb` (its folder made only when the rename says it is missing).
async function writeThumb(encoder: Sharp, thumb: string, tempDir: string): Promise<void> {
  const temp = path.join(tempDir, `${path.basename(thumb)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await encoder.toFile(temp);
    await rename(temp, thumb).catch(async (error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
      await mkdir(path.dirname(thumb), { recursive: true });
      await rename(temp, thumb);
    });
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}
