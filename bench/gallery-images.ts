// Real pictures for the gallery scenario, made with sharp: a smooth random picture per seed (colour blocks
// upscaled), in the mixes an archive holds: JPEGs of a few megapixels, PNGs, WebPs, JPEGs with EXIF orientation 6
// (stored landscape, shown portrait) and animated GIFs;
// every seed a different picture (and dHash). Made once per machine (cachedPicture).

import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import type { Sharp } from 'sharp';

function picture(seed: number, width: number, height: number): Sharp {
  // The blocks' colours from sha256 of the seed (an LCG's low bits repeat with a short period: pictures of
  // different seeds then share their dHash).
  const blocks = Buffer.alloc(8 * 6 * 3);
  for (let at = 0, round = 0; at < blocks.length; round++) at += createHash('sha256').update(`${seed}/${round}`).digest().copy(blocks, at);
  return sharp(blocks, { raw: { width: 8, height: 6, channels: 3 } }).resize(width, height, { kernel: 'cubic', fit: 'fill' });
}

export interface Picture {
  kind: string;
  bytes: Buffer;
}

// The seed's picture, from the cache folder when an earlier bench made it (making 2,000 of these takes minutes on
// a busy 2-core machine; the bytes depend only on the seed and PICTURES_VERSION).
export async function cachedPicture(seed: number): Promise<Picture> {
  const file = join(PICTURE_CACHE, `${seed}.${kindOf(seed)}`);
  const bytes = await readFile(file).catch(() => undefined);
  if (bytes !== undefined) return { kind: KINDS[kindOf(seed)], bytes };
  const made = await makePicture(seed);
  await mkdir(PICTURE_CACHE, { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, made.bytes);
  await rename(temp, file);
  return made;
}

// Change it whenever makePicture makes other bytes for a seed.
const PICTURES_VERSION = 1;
export const PICTURE_CACHE = join(tmpdir(), `dps-bench-gallery-pictures-v${PICTURES_VERSION}`);

const KINDS = ['jpeg 2400x1600', 'png 1600x1200', 'webp 2000x1500', 'jpeg 2400x1600, EXIF orientation 6', 'animated gif 640x480, 4 frames'] as const;
function kindOf(seed: number): 0 | 1 | 2 | 3 | 4 {
  const slot = seed % 10;
  return slot < 4 ? 0 : slot < 6 ? 1 : slot < 8 ? 2 : slot === 8 ? 3 : 4;
}

// The seed's kind: 4 in 10 JPEG 2400x1600, 2 PNG 1600x1200, 2 WebP 2000x1500, 1 JPEG with orientation 6, 1 GIF of 4 frames.
export async function makePicture(seed: number): Promise<Picture> {
  const kind = kindOf(seed);
  if (kind === 0) return { kind: KINDS[0], bytes: await picture(seed, 2400, 1600).jpeg({ quality: 88 }).toBuffer() };
  if (kind === 1) return { kind: KINDS[1], bytes: await picture(seed, 1600, 1200).png().toBuffer() };
  if (kind === 2) return { kind: KINDS[2], bytes: await picture(seed, 2000, 1500).webp({ quality: 85 }).toBuffer() };
  if (kind === 3) {
    const pixels = await picture(seed, 2400, 1600).png().toBuffer();
    return { kind: KINDS[3], bytes: await sharp(pixels).jpeg({ quality: 88 }).withMetadata({ orientation: 6 }).toBuffer() };
  }
  const frames = await Promise.all(
    Array.from({ length: 4 }, (_, i) =>
      picture(seed * 10 + i, 640, 480)
        .png()
        .toBuffer(),
    ),
  );
  return {
    kind: KINDS[4],
    bytes: await sharp(frames, { join: { animated: true } })
      .gif()
      .toBuffer(),
  };
}
