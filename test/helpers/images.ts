// Real images for the gallery's tests, made with sharp itself: a smooth random picture per seed (unrelated seeds
// give unrelated dHashes; a resize or re-encode of one keeps its hash within a few bits), a JPEG with EXIF
// orientation 6, an animated GIF, and bytes no decoder accepts.

import sharp from 'sharp';
import type { Sharp } from 'sharp';

// A w x h RGB picture: 6x5 random colour blocks per seed, smoothly upscaled.
export function picture(seed: number, width = 480, height = 360): Sharp {
  let state = seed * 2654435761 + 12345;
  const random = (): number => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state % 256;
  };
  const blocks = Buffer.alloc(6 * 5 * 3);
  for (let i = 0; i < blocks.length; i++) blocks[i] = random();
  return sharp(blocks, { raw: { width: 6, height: 5, channels: 3 } }).resize(width, height, { kernel: 'cubic', fit: 'fill' });
}

export async function png(seed: number, width?: number, height?: number): Promise<Buffer> {
  return picture(seed, width, height).png().toBuffer();
}

// A JPEG whose pixels are stored landscape (w x h) with EXIF orientation 6: viewers show it portrait (h x w).
export async function jpegOrientation6(seed: number, width = 400, height = 200): Promise<Buffer> {
  const pixels = await picture(seed, width, height).png().toBuffer();
  return sharp(pixels).jpeg({ quality: 90 }).withMetadata({ orientation: 6 }).toBuffer();
}

// A resized, re-encoded copy (what a re-post or a screenshot makes of a picture).
export async function reencoded(original: Buffer, width: number): Promise<Buffer> {
  return sharp(original).resize(width).jpeg({ quality: 70 }).toBuffer();
}

// An animated GIF of `frames` frames (each a different picture), w x h.
export async function animatedGif(seed: number, frames = 3, width = 200, height = 120): Promise<Buffer> {
  const pages = await Promise.all(
    Array.from({ length: frames }, (_, i) =>
      picture(seed + i, width, height)
        .png()
        .toBuffer(),
    ),
  );
  return sharp(pages, { join: { animated: true } })
    .gif()
    .toBuffer();
}

// A file that starts like a PNG and is not one.
export function corrupt(): Buffer {
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from('not really a png '.repeat(20))]);
}
