// A BK-tree over 64-bit hashes: every hash within N bits of a query, without comparing against all of them.
// Each child hangs off its parent at their exact Hamming distance; by the triangle inequality, a search for
// distance <= N from q only descends into children at distance d(q, node) - N .. d(q, node) + N. For small N
// (dHash near-duplicates: 6 of 64 bits) that visits a small part of the tree, where pairwise comparison of
// 200,000 hashes would be 2e10 distance computations.

import { hammingDistance } from './dhash.js';
import type { Hash64 } from './dhash.js';

interface Node {
  hash: Hash64;
  id: number;
  children: Map<number, Node>;
}

export class BkTree {
  #root: Node | undefined;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  // Adds `hash` under the caller's `id` (equal hashes are separate entries, at distance 0).
  add(hash: Hash64, id: number): void {
    const node: Node = { hash, id, children: new Map() };
    this.#size++;
    if (this.#root === undefined) {
      this.#root = node;
      return;
    }
    let at = this.#root;
    for (;;) {
      const d = hammingDistance(hash, at.hash);
      const next = at.children.get(d);
      if (next === undefined) {
        at.children.set(d, node);
        return;
      }
      at = next;
    }
  }

  // Every entry within `maxDistance` bits of `hash`: its id and distance (in no particular order).
  search(hash: Hash64, maxDistance: number): Array<{ id: number; distance: number }> {
    const found: Array<{ id: number; distance: number }> = [];
    const stack: Node[] = this.#root ? [this.#root] : [];
    while (stack.length > 0) {
      const node = stack.pop() as Node;
      const d = hammingDistance(hash, node.hash);
      if (d <= maxDistance) found.push({ id: node.id, distance: d });
      for (const [edge, child] of node.children) if (edge >= d - maxDistance && edge <= d + maxDistance) stack.push(child);
    }
    return found;
  }
}
