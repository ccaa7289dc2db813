// The hash index and the groups against brute force on random hashes (with planted near-duplicates): the same
// neighbours, the same groups, for several distances (those the block tables serve and wider ones, which compare
// against every entry).

import t from 'tap';
import { HashIndex } from '../../lib/gallery/hash-index.js';
import { dhashOf, hammingDistance, parseHash } from '../../lib/gallery/dhash.js';
import { MAX_NEIGHBOURS, neighbours, similarGroups } from '../../lib/gallery/groups.js';

// Deterministic random 64-bit hashes, some of them copies of others with a few bits flipped.
function randomHashes(count: number, seed: number): string[] {
  let state = BigInt(seed) | 1n;
  const next = (): bigint => {
    state ^= (state << 13n) & 0xffffffffffffffffn;
    state ^= state >> 7n;
    state ^= (state << 17n) & 0xffffffffffffffffn;
    return state & 0xffffffffffffffffn;
  };
  const hashes: bigint[] = [];
  for (let i = 0; i < count; i++) {
    const base = hashes.length > 0 && next() % 4n === 0n ? (hashes[Number(next() % BigInt(hashes.length))] as bigint) : next();
    let hash = base;
    const flips = Number(next() % 9n);
    for (let f = 0; f < flips; f++) hash ^= 1n << (next() % 64n);
    hashes.push(hash);
  }
  return hashes.map((h) => h.toString(16).padStart(16, '0'));
}

const bruteDistance = (a: string, b: string): number => (BigInt(`0x${a}`) ^ BigInt(`0x${b}`)).toString(2).replace(/0/g, '').length;

t.test('hammingDistance and dhashOf', async (t) => {
  t.equal(hammingDistance(parseHash('ffffffffffffffff'), parseHash('0000000000000000')), 64);
  t.equal(hammingDistance(parseHash('8000000000000001'), parseHash('0000000000000000')), 2);
  t.equal(hammingDistance(parseHash('00000000ffff0000'), parseHash('0000000000ff0000')), 8);
  const rising = new Uint8Array(72).map((_, i) => (i % 9) * 10);
  t.equal(dhashOf(rising), 'ffffffffffffffff', 'every right neighbour brighter: all ones');
  t.equal(dhashOf(new Uint8Array(72)), '0000000000000000', 'flat: all zeros');
  const firstRowOnly = new Uint8Array(72);
  for (let x = 0; x < 9; x++) firstRowOnly[x] = x;
  t.equal(dhashOf(firstRowOnly), 'ff00000000000000', 'the first row is the highest byte');
  t.throws(() => dhashOf(new Uint8Array(10)));
});

t.test('the hash index finds exactly what brute force finds', async (t) => {
  const hashes = randomHashes(3000, 7);
  const tree = new HashIndex();
  hashes.forEach((h, i) => {
    tree.add(parseHash(h), i);
  });
  t.equal(tree.size, hashes.length);
  for (const distance of [0, 1, 3, 4, 6, 7, 8, 10, 11, 12, 20, 64]) {
    let mismatches = 0;
    for (let q = 0; q < hashes.length; q += 7) {
      const query = hashes[q] as string;
      const found = tree
        .search(parseHash(query), distance)
        .map((hit) => hit.id)
        .sort((a, b) => a - b);
      const expected = hashes.flatMap((h, i) => (bruteDistance(query, h) <= distance ? [i] : []));
      if (found.join() !== expected.join()) mismatches++;
    }
    t.equal(mismatches, 0, `distance ${distance}: the same hits`);
  }
});

t.test('groups are the connected components brute force finds', async (t) => {
  const hashes = randomHashes(1500, 11);
  for (const distance of [2, 6]) {
    // Brute force: union every pair within the distance.
    const parent = hashes.map((_, i) => i);
    const find = (i: number): number => {
      let root = i;
      while (parent[root] !== root) root = parent[root] as number;
      return root;
    };
    for (let i = 0; i < hashes.length; i++)
      for (let j = i + 1; j < hashes.length; j++) if (bruteDistance(hashes[i] as string, hashes[j] as string) <= distance) parent[find(j)] = find(i);
    const components = new Map<number, number[]>();
    hashes.forEach((_, i) => {
      const root = find(i);
      components.set(root, [...(components.get(root) ?? []), i]);
    });
    const expected = [...components.values()].filter((c) => c.length > 1).map((c) => c.join());
    const groups = similarGroups(hashes, distance);
    t.ok(groups.length > 10, `distance ${distance}: ${groups.length} groups (planted near-duplicates)`);
    t.same(groups.map((g) => g.members.join()).sort(), expected.sort(), `distance ${distance}: the same groups`);
    for (const group of groups) {
      let widest = 0;
      for (const a of group.members) for (const b of group.members) widest = Math.max(widest, bruteDistance(hashes[a] as string, hashes[b] as string));
      if (group.distance !== widest) t.fail(`group ${group.members.join()}: distance ${group.distance}, expected ${widest}`);
    }
  }
});

t.test('neighbours: each hash with the others within the distance; nulls are none', async (t) => {
  const hashes: Array<string | null> = randomHashes(400, 3);
  hashes[5] = null;
  const near = neighbours(hashes, 6);
  t.equal(near[5], null);
  for (const [i, list] of near.entries()) {
    const query = hashes[i];
    if (query === null || query === undefined) continue;
    const expected = hashes
      .flatMap((h, j) => (j !== i && h !== null && h !== undefined && bruteDistance(query, h) <= 6 ? [{ j, d: bruteDistance(query, h) }] : []))
      .sort((a, b) => a.d - b.d || a.j - b.j)
      .slice(0, MAX_NEIGHBOURS)
      .map((hit) => hit.j);
    t.same(list ?? [], expected, `hash ${i}`);
  }
});

t.test('neighbours: thousands alike get the nearest MAX_NEIGHBOURS each, not a quadratic list', async (t) => {
  // 3,000 pictures with one hash and 1,000 one bit away: every item is within 6 bits of the 3,999 others.
  const hashes: string[] = [...Array.from({ length: 3000 }, () => '00000000000000ff'), ...Array.from({ length: 1000 }, () => '00000000000001ff')];
  const near = neighbours(hashes, 6);
  t.ok(
    near.every((list) => list !== null && list.length === MAX_NEIGHBOURS),
    'each has MAX_NEIGHBOURS',
  );
  t.same(near[3000]!.slice(0, 3), [3001, 3002, 3003], 'equal hashes first (distance 0), then in order');
  t.notOk(near[0]!.includes(0), 'never itself');
});
