// gray9x8 (the dHash's 9x8 grey pixels, computed from the thumbnail's own pixels) against a reference that needs
// no fractions: the image repeated 9 times across and 8 times down, so each cell is exactly one image-sized block;
// transparency onto white, tiny images, and near-duplicates made with sharp (a resize and re-encode) staying close
// while unrelated pictures stay apart.

import t from 'tap';
import sharp from 'sharp';
import { dhashOf, gray9x8, hammingDistance, parseHash } from '../../lib/gallery/dhash.js';
import { png, reencoded } from '../helpers/images.js';

// Deterministic noise.
function noise(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    out[i] = state & 255;
  }
  return out;
}

// Each cell's exact mean: cell (cx, cy) covers, in the image enlarged 9x across and 8x down, the block of
// width x height pixels at (cx * width, cy * height).
function reference(pixels: Uint8Array, width: number, height: number, channels: number): number[] {
  const grey = (x: number, y: number): number => {
    const at = (y * width + x) * channels;
    let g = channels >= 3 ? 0.299 * pixels[at]! + 0.587 * pixels[at + 1]! + 0.114 * pixels[at + 2]! : pixels[at]!;
    if (channels === 2 || channels === 4) {
      const a = pixels[at + channels - 1]! / 255;
      g = g * a + 255 * (1 - a);
    }
    return g;
  };
  const out: number[] = [];
  for (let cy = 0; cy < 8; cy++)
    for (let cx = 0; cx < 9; cx++) {
      let sum = 0;
      for (let y = cy * height; y < (cy + 1) * height; y++)
        for (let x = cx * width; x < (cx + 1) * width; x++) sum += grey(Math.floor(x / 9), Math.floor(y / 8));
      out.push(sum / (width * height));
    }
  return out;
}

t.test('gray9x8 is the area mean of each cell, for any size and channel count', async (t) => {
  const sizes: Array<[number, number]> = [
    [320, 213],
    [213, 320],
    [17, 11],
    [9, 8],
    [10, 9],
    [1, 1],
    [3, 2],
    [320, 1],
    [1, 320],
    [100, 7],
  ];
  for (const [width, height] of sizes)
    for (const channels of [1, 2, 3, 4]) {
      const pixels = noise(width * height * channels, width * 1000 + height * 10 + channels);
      const got = gray9x8(pixels, width, height, channels);
      const want = reference(pixels, width, height, channels);
      const off = want.map((v, i) => Math.abs(v - got[i]!)).reduce((a, b) => Math.max(a, b), 0);
      t.ok(off <= 0.5 + 1e-6, `${width}x${height}x${channels}: within rounding of the exact means (off by ${off.toFixed(3)})`);
    }
  t.throws(() => gray9x8(new Uint8Array(10), 4, 4, 3), RangeError, 'too few bytes');
  t.throws(() => gray9x8(new Uint8Array(10), 0, 4, 3), RangeError, 'no pixels');
});

t.test('transparency is flattened onto white; a left-to-right ramp sets every bit', async (t) => {
  const clear = new Uint8Array(40 * 30 * 4); // black, fully transparent
  t.same([...gray9x8(clear, 40, 30, 4)], new Array(72).fill(255), 'transparent black shows as white');
  const ramp = new Uint8Array(90 * 16);
  for (let y = 0; y < 16; y++) for (let x = 0; x < 90; x++) ramp[y * 90 + x] = x * 2;
  t.equal(dhashOf(gray9x8(ramp, 90, 16, 1)), 'ffffffffffffffff', 'brighter to the right: all ones');
});

t.test('near-duplicates stay close, different pictures apart (hashes of the decoded thumbnail pixels)', async (t) => {
  const hashOf = async (bytes: Buffer): Promise<string> => {
    const { data, info } = await sharp(bytes).resize(320, 320, { fit: 'inside', withoutEnlargement: true }).raw().toBuffer({ resolveWithObject: true });
    return dhashOf(gray9x8(data, info.width, info.height, info.channels));
  };
  const originals = await Promise.all([1, 2, 3, 4, 5, 6].map((seed) => png(seed, 640, 480)));
  const hashes = await Promise.all(originals.map(hashOf));
  for (const [i, original] of originals.entries()) {
    const copy = await hashOf(await reencoded(original, 300));
    const bits = hammingDistance(parseHash(copy), parseHash(hashes[i]!));
    t.ok(bits <= 6, `picture ${i + 1}: its resized re-encode is ${bits} bits away`);
  }
  for (let i = 0; i < hashes.length; i++)
    for (let j = i + 1; j < hashes.length; j++) {
      const bits = hammingDistance(parseHash(hashes[i]!), parseHash(hashes[j]!));
      t.ok(bits > 6, `pictures ${i + 1} and ${j + 1}: ${bits} bits apart`);
    }
});
