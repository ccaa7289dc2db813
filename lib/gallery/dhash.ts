// The 64-bit difference hash (dHash) of an image and the Hamming distance between two: near-duplicates (a
// re-encode, a resize, a screenshot of the same picture) have hashes a few bits apart.

// The image shrunk to 9x8 grayscale pixels (row by row): bit i is set when pixel x+1 of its row is brighter than
// pixel x, 8 bits per row, 8 rows, first row in the highest bits. Returned as 16 lowercase hex digits.
export function dhashOf(gray9x8: Uint8Array): string {
  if (gray9x8.length < 72) throw new RangeError(`dhash needs 9x8 gray pixels, got ${gray9x8.length} bytes`);
  let hash = 0n;
  for (let y = 0; y < 8; y++) {
    for (let x = 0; x < 8; x++) {
      const left = gray9x8[y * 9 + x] as number;
      const right = gray9x8[y * 9 + x + 1] as number;
      hash = (hash << 1n) | (right > left ? 1n : 0n);
    }
  }
  return hash.toString(16).padStart(16, '0');
}

// An image's pixels (8 bits per channel: grey, grey+alpha, RGB or RGBA, row by row) shrunk to the 9x8 grey
// pixels dhashOf takes: each output pixel the area-weighted mean of the input pixels it covers, transparency
// flattened onto white, grey as Rec. 601 luma. An input narrower than 9 or lower than 8 pixels is first enlarged
// by repeating each pixel (which keeps every area's mean).
export function gray9x8(pixels: Uint8Array, width: number, height: number, channels: number): Uint8Array {
  if (width < 1 || height < 1 || channels < 1 || channels > 4 || pixels.length < width * height * channels)
    throw new RangeError(`gray9x8 needs ${width}x${height}x${channels} bytes, got ${pixels.length}`);
  if (width < 9 || height < 8) return gray9x8(...repeated(pixels, width, height, channels, Math.ceil(9 / width), Math.ceil(8 / height)));
  const columns = cells(width, 9);
  const rows = cells(height, 8);
  const alpha = channels === 2 || channels === 4;
  const colour = channels >= 3;
  const { cell, first: inFirst, second: inSecond } = columns;
  const line = new Float64Array(10); // a row's sums per column cell (and one past the last)
  const sums = new Float64Array(81); // per cell (and a row past the last)
  for (let y = 0, at = 0; y < height; y++) {
    line.fill(0);
    for (let x = 0; x < width; x++, at += channels) {
      let grey = colour ? 0.299 * (pixels[at] as number) + 0.587 * (pixels[at + 1] as number) + 0.114 * (pixels[at + 2] as number) : (pixels[at] as number);
      if (alpha) {
        const a = (pixels[at + channels - 1] as number) / 255;
        grey = grey * a + 255 * (1 - a);
      }
      const c = cell[x] as number;
      line[c] = (line[c] as number) + grey * (inFirst[x] as number);
      line[c + 1] = (line[c + 1] as number) + grey * (inSecond[x] as number);
    }
    const r = (rows.cell[y] as number) * 9;
    const first = rows.first[y] as number;
    const second = rows.second[y] as number;
    for (let c = 0; c < 9; c++) {
      sums[r + c] = (sums[r + c] as number) + (line[c] as number) * first;
      sums[r + 9 + c] = (sums[r + 9 + c] as number) + (line[c] as number) * second;
    }
  }
  const out = new Uint8Array(72);
  const area = (width / 9) * (height / 8);
  for (let i = 0; i < 72; i++) out[i] = Math.min(255, Math.round((sums[i] as number) / area));
  return out;
}

// `size` input pixels over `n` output cells of size/n >= 1 pixels each: each pixel lies in one cell or straddles
// two; its cell and how much of it lies in that cell and in the next one.
function cells(size: number, n: number): { cell: Int32Array; first: Float64Array; second: Float64Array } {
  const step = size / n;
  const cell = new Int32Array(size);
  const first = new Float64Array(size);
  const second = new Float64Array(size);
  for (let p = 0; p < size; p++) {
    const c = Math.min(n - 1, Math.floor(p / step));
    const end = (c + 1) * step; // where the pixel's cell ends
    cell[p] = c;
    first[p] = Math.min(1, end - p);
    second[p] = c < n - 1 ? 1 - (first[p] as number) : 0;
  }
  return { cell, first, second };
}

// Each pixel repeated `sx` times across and `sy` times down.
function repeated(pixels: Uint8Array, width: number, height: number, channels: number, sx: number, sy: number): [Uint8Array, number, number, number] {
  const out = new Uint8Array(width * sx * height * sy * channels);
  let at = 0;
  for (let y = 0; y < height * sy; y++) {
    const row = Math.floor(y / sy) * width * channels;
    for (let x = 0; x < width * sx; x++, at += channels)
      out.set(pixels.subarray(row + Math.floor(x / sx) * channels, row + Math.floor(x / sx) * channels + channels), at);
  }
  return [out, width * sx, height * sy, channels];
}

// A hash as two 32-bit halves, so distances need no BigInt.
export interface Hash64 {
  hi: number;
  lo: number;
}

export function parseHash(hex: string): Hash64 {
  return { hi: Number.parseInt(hex.slice(0, 8), 16) >>> 0, lo: Number.parseInt(hex.slice(8, 16), 16) >>> 0 };
}

// Bits set in a 32-bit integer.
function popcount32(value: number): number {
  let v = value >>> 0;
  v -= (v >>> 1) & 0x55555555;
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

// How many of the 64 bits differ.
export function hammingDistance(a: Hash64, b: Hash64): number {
  return popcount32(a.hi ^ b.hi) + popcount32(a.lo ^ b.lo);
}
