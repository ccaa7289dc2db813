// Naming and path claims (lib/stages/claim-path.ts) on a real LevelDB: a path is claimed by one attachment,
// the next gets its id before the extension, then a counter; an attachment's own claim is persisted (it vouches
// for the file after a crash). Claiming takes no signal: it is one store read per candidate.

import t from 'tap';
import { candidateName, candidatePaths, claimPath, itemFolder } from '../../lib/stages/claim-path.js';
import { localItem, localWorld } from '../helpers/stage-items.js';

t.test('candidate names: the id survives the length cut, then a counter', async (t) => {
  const long = `${'b'.repeat(115)}.png`;
  t.equal(candidateName('x.png', '123', 0), 'x.png');
  t.equal(candidateName('x.png', '123', 1), 'x_123.png');
  t.equal(candidateName('x.png', '123', 2), 'x_123_2.png');
  t.equal(candidateName('2024-01-01', '123', 1), '2024-01-01_123', 'no extension: appended');
  const cut = candidateName(long, '1234567890123456789', 1);
  t.ok(cut.endsWith('_1234567890123456789.png') && Buffer.byteLength(cut) <= 120, cut);
  const emoji = candidateName(`${'📷'.repeat(29)}.png`, '99', 1);
  t.ok(emoji.endsWith('_99.png') && Buffer.byteLength(emoji) <= 120 && !emoji.includes('\ufffd'), emoji);
});

t.test('one path, one attachment: the second gets its id; the claim is persisted', async (t) => {
  const world = await localWorld(t);
  const options = { ...world, namePattern: '{date}.png' };
  const [a, b] = [localItem(world.context, '11'), localItem(world.context, '12')];
  const first = await claimPath(a, options);
  const second = await claimPath(b, options);
  t.equal(first.n, 0);
  t.equal(second.n, 1);
  t.ok(second.path.endsWith('2024-01-01_12.png'), second.path);
  t.same(await claimPath(a, options), first, 'an attachment finds its own claim again');
  t.equal(second.path.startsWith(itemFolder(world.out, b)), true, "inside the item's folder");
  t.same(candidatePaths(b, options), { path: first.path, suffixedPath: second.path }, 'the paths an earlier run may have given it');
  world.store.releaseClaim(first.path, '11');
  await world.store.advanceCursor(world.context.channel_id, '1'); // a later group, awaited: the claim's group is written
  t.equal(await world.store.storedClaim(first.path), '11', 'persisted: it outlives the in-memory claim');
});

t.test('a reference key claims without persisting', async (t) => {
  const world = await localWorld(t);
  const item = localItem(world.context, '21');
  const claimed = await claimPath(item, { ...world, namePattern: '{filename}' }, 0, 'ref:21:9');
  world.store.releaseClaim(claimed.path, 'ref:21:9');
  await world.store.advanceCursor(world.context.channel_id, '1');
  t.equal(await world.store.storedClaim(claimed.path), undefined);
});
