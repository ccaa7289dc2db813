// An index of 64-bit hashes that finds every hash within N bits of a query without comparing against all of them
// (multi-index hashing). The 64 bits are cut into four 16-bit blocks, each with a table from the block's value to
// the entries holding it. Two hashes within N bits differ in at most floor(N / 4) bits of some block (the four
// blocks' differences add up to at most N), so a search looks up, in each table, the query's block and every
// value within floor(N / 4) bits of it, and measures only those candidates. For dHash near-duplicates (N = 6: one
// bit per block, 17 lookups per table) that is a few hundred candidates among 200,000 evenly spread hashes (more
// where many images share a block's value: bench/limits.md, "Near-duplicate search"). A BK-tree, here
// before, visited most of its nodes for every query (random 64-bit distances bunch around 32, and its pruning
// window of 2N + 1 distances spans most of them): 15 s of CPU for a 20,000-file channel, quadratic beyond.
// Wider searches (N >= 12) compare against every entry.

import { hammingDistance } from './dhash.js';
import type { Hash64 } from './dhash.js';

const BLOCKS = 4;
// Per-block tolerance the tables serve; above it, a search compares against every entry.
const MAX_BLOCK_BITS = 2; // MASKS below has lists up to this

// The 16-bit masks with at most 0, 1 and 2 bits set, fewest first (1, 17 and 137 of them).
const ONE_BIT = Array.from({ length: 16 }, (_, i) => 1 << i);
const TWO_BITS = ONE_BIT.flatMap((a, i) => ONE_BIT.slice(i + 1).map((b) => a | b));
const MASKS: readonly (readonly number[])[] = [[0], [0, ...ONE_BIT], [0, ...ONE_BIT, ...TWO_BITS]];

// Block b (0: the highest 16 bits) of a hash.
function block(hash: Hash64, b: number): number {
  const half = b < 2 ? hash.hi : hash.lo;
  return b % 2 === 0 ? half >>> 16 : half & 0xffff;
}

// Hashes added under the caller's ids, then searched by distance (groups.ts: similar images, `dps similar`).
export class HashIndex {
  readonly #hashes: Hash64[] = [];
  readonly #ids: number[] = [];
  readonly #tables: Array<Map<number, number[]>> = Array.from({ length: BLOCKS }, () => new Map());
  // Entries already measured in the current search (a candidate can match in several blocks).
  #seen = new Uint32Array(0);
  #search = 0;

  get size(): number {
    return this.#hashes.length;
  }

  // Adds `hash` under the caller's `id` (equal hashes are separate entries, at distance 0).
  add(hash: Hash64, id: number): void {
    const entry = this.#hashes.length;
    this.#hashes.push(hash);
    this.#ids.push(id);
    for (let b = 0; b < BLOCKS; b++) {
      const table = this.#tables[b] as Map<number, number[]>;
      const value = block(hash, b);
      const list = table.get(value);
      if (list) list.push(entry);
      else table.set(value, [entry]);
    }
  }

  // Every entry within `maxDistance` bits of `hash`: its id and distance (in no particular order).
  search(hash: Hash64, maxDistance: number): Array<{ id: number; distance: number }> {
    const found: Array<{ id: number; distance: number }> = [];
    const measure = (entry: number): void => {
      const d = hammingDistance(hash, this.#hashes[entry] as Hash64);
      if (d <= maxDistance) found.push({ id: this.#ids[entry] as number, distance: d });
    };
    const bits = Math.floor(Math.max(0, maxDistance) / BLOCKS);
    if (bits > MAX_BLOCK_BITS) {
      for (let entry = 0; entry < this.#hashes.length; entry++) measure(entry);
      return found;
    }
    if (this.#seen.length < this.#hashes.length) this.#seen = new Uint32Array(Math.max(1024, this.#hashes.length * 2));
    const stamp = ++this.#search;
    for (let b = 0; b < BLOCKS; b++) {
      const table = this.#tables[b] as Map<number, number[]>;
      const value = block(hash, b);
      for (const mask of MASKS[bits] as readonly number[]) {
        const list = table.get(value ^ mask);
        if (list === undefined) continue;
        for (const entry of list) {
          if (this.#seen[entry] === stamp) continue;
          this.#seen[entry] = stamp;
          measure(entry);
        }
      }
    }
    return found;
  }
}
