// Groups of near-duplicate hashes: the connected components of "within N bits of each other", found through a
// multi-index (hash-index.ts: one search per distinct hash) and a union-find, and each group's largest distance between two members.

import { HashIndex } from './hash-index.js';
import { hammingDistance, parseHash } from './dhash.js';
import type { Hash64 } from './dhash.js';

// dps similar's --distance when none is given (here, not in run-similar.ts: lib/index.ts exports it without loading the state's database).
export const DEFAULT_SIMILAR_DISTANCE = 6;

// Each group lists indices into `hashes` (16 hex digits each); groups of one are left out. `distance` is the
// largest distance between two members (a chain a~b~c can make it more than maxDistance: each link is within it).
export function similarGroups(hashes: readonly string[], maxDistance: number): Array<{ members: number[]; distance: number }> {
  // Equal hashes share one index entry.
  const distinct = new Map<string, number[]>();
  hashes.forEach((hex, i) => {
    const list = distinct.get(hex);
    if (list) list.push(i);
    else distinct.set(hex, [i]);
  });
  const keys = [...distinct.keys()];
  const parsed = keys.map(parseHash);
  const index = new HashIndex();
  for (const [i, hash] of parsed.entries()) index.add(hash, i);
  const parent = keys.map((_, i) => i);
  const find = (i: number): number => {
    let root = i;
    while (parent[root] !== root) root = parent[root] as number;
    while (parent[i] !== root) {
      const next = parent[i] as number;
      parent[i] = root;
      i = next;
    }
    return root;
  };
  parsed.forEach((hash, i) => {
    for (const { id } of index.search(hash, maxDistance)) {
      const a = find(i);
      const b = find(id);
      if (a !== b) parent[Math.max(a, b)] = Math.min(a, b);
    }
  });
  const components = new Map<number, number[]>();
  keys.forEach((_, i) => {
    const root = find(i);
    const list = components.get(root);
    if (list) list.push(i);
    else components.set(root, [i]);
  });
  const groups: Array<{ members: number[]; distance: number }> = [];
  for (const members of components.values()) {
    const files = members.flatMap((k) => distinct.get(keys[k] as string) ?? []);
    if (files.length < 2) continue;
    groups.push({ members: files.sort((a, b) => a - b), distance: widest(members.map((k) => parsed[k] as Hash64)) });
  }
  return groups.sort((a, b) => (a.members[0] as number) - (b.members[0] as number));
}

// The largest distance between two of `hashes`: pairwise for groups up to WIDEST_PAIRWISE distinct hashes; above
// that, the largest from the first one (at least half the true value), so one huge group costs no quadratic time.
const WIDEST_PAIRWISE = 300;
function widest(hashes: readonly Hash64[]): number {
  let max = 0;
  const rows = hashes.length > WIDEST_PAIRWISE ? 1 : hashes.length;
  for (let i = 0; i < rows; i++) for (let j = i + 1; j < hashes.length; j++) max = Math.max(max, hammingDistance(hashes[i] as Hash64, hashes[j] as Hash64));
  return max;
}

// For each hash, the indices of the others within maxDistance bits, nearest first (then in order), at most
// MAX_NEIGHBOURS of them (null: none): a channel's "similar images". Equal hashes share one search, and the cap
// keeps a channel where thousands of pictures look alike (reposts, screenshots) from a quadratic list.
export const MAX_NEIGHBOURS = 24;
export function neighbours(hashes: ReadonlyArray<string | null>, maxDistance: number): Array<number[] | null> {
  const distinct = new Map<string, number[]>();
  hashes.forEach((hex, i) => {
    if (hex === null) return;
    const list = distinct.get(hex);
    if (list) list.push(i);
    else distinct.set(hex, [i]);
  });
  const keys = [...distinct.keys()];
  const index = new HashIndex();
  for (const [k, hex] of keys.entries()) index.add(parseHash(hex), k);
  const near = new Map<string, Array<{ id: number; distance: number }>>(); // per distinct hash: the nearest ids
  keys.forEach((hex) => {
    const hits: Array<{ id: number; distance: number }> = [];
    for (const hit of index.search(parseHash(hex), maxDistance)) for (const id of distinct.get(keys[hit.id]!)!) hits.push({ id, distance: hit.distance });
    hits.sort((a, b) => a.distance - b.distance || a.id - b.id);
    near.set(hex, hits.slice(0, MAX_NEIGHBOURS + 1)); // one more: an item drops itself
  });
  return hashes.map((hex, i) => {
    if (hex === null) return null;
    const list = near
      .get(hex)!
      .filter((hit) => hit.id !== i)
      .slice(0, MAX_NEIGHBOURS)
      .map((hit) => hit.id);
    return list.length > 0 ? list : null;
  });
}
