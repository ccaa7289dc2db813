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
