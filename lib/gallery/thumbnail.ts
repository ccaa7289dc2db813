// One file, decoded once: its thumbnail (WebP, 320 px on the long side, EXIF orientation applied, the first frame
// of an animation) written atomically to a content-addressed path, and its dHash from the same decoded pixels.

import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { dhashOf } from './dhash.js';

export const THUMB_SIZE = 320;

// What decoding found: the dHash (16 hex digits), the size after rotation, 1 for an animation (0 otherwise).
export interface Decoded {
  d: string;
  w: number;
  h: number;
  k: number;
}

// Decodes `file`; with `thumb` (the final path) also writes the thumbnail through a temp file in `tempDir`
// and a rename (a thumbnail is derived data: replacing one is fine). Rejects for a file it cannot decode.
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
    .raw()
    .toBuffer({ resolveWithObject: true });
  const raw = { raw: { width: info.width, height: info.height, channels: info.channels } };
  const gray = await sharp(data, raw)
    .flatten({ background: '#ffffff' })
    .resize(9, 8, { fit: 'fill' })
    .toColourspace('b-w')
    .raw()
    .toBuffer({ resolveWithObject: true });
  const step = gray.info.channels;
  const pixels = new Uint8Array(72);
  for (let i = 0; i < 72; i++) pixels[i] = gray.data[i * step] as number;
  if (thumb !== null) {
    await mkdir(path.dirname(thumb), { recursive: true });
    const temp = path.join(tempDir, `${path.basename(thumb)}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      await sharp(data, raw).webp({ quality: 75 }).toFile(temp);
      await rename(temp, thumb);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  }
  return { d: dhashOf(pixels), w: turned ? height : width, h: turned ? width : height, k: animated ? 1 : 0 };
}
