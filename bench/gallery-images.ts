// Real pictures for the gallery scenario, made with sharp: a smooth random picture per seed (colour blocks
// upscaled), in the mixes an archive holds: JPEGs of a few megapixels, PNGs, WebPs, JPEGs with EXIF orientation 6
// (stored landscape, shown portrait) and animated GIFs;
// every seed a different picture (and dHash).

import { createHash } from 'node:crypto';
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

// The seed's kind: 4 in 10 JPEG 2400x1600, 2 PNG 1600x1200, 2 WebP 2000x1500, 1 JPEG with orientation 6, 1 GIF of 4 frames.
export async function makePicture(seed: number): Promise<Picture> {
  const slot = seed % 10;
  if (slot < 4) return { kind: 'jpeg 2400x1600', bytes: await picture(seed, 2400, 1600).jpeg({ quality: 88 }).toBuffer() };
  if (slot < 6) return { kind: 'png 1600x1200', bytes: await picture(seed, 1600, 1200).png().toBuffer() };
  if (slot < 8) return { kind: 'webp 2000x1500', bytes: await picture(seed, 2000, 1500).webp({ quality: 85 }).toBuffer() };
  if (slot === 8) {
    const pixels = await picture(seed, 2400, 1600).png().toBuffer();
    return { kind: 'jpeg 2400x1600, EXIF orientation 6', bytes: await sharp(pixels).jpeg({ quality: 88 }).withMetadata({ orientation: 6 }).toBuffer() };
  }
  const frames = await Promise.all(
    Array.from({ length: 4 }, (_, i) =>
      picture(seed * 10 + i, 640, 480)
        .png()
        .toBuffer(),
    ),
  );
  return {
    kind: 'animated gif 640x480, 4 frames',
    bytes: await sharp(frames, { join: { animated: true } })
      .gif()
      .toBuffer(),
  };
}

// A small distinct PNG per seed (64x48): the page's channel, where every file must differ (copies of a few
// pictures would share their dHash and make every copy "similar" to every other).
export function smallPicture(seed: number): Promise<Buffer> {
  return picture(seed + 1_000_003, 64, 48)
    .png({ compressionLevel: 1 })
    .toBuffer();
}
