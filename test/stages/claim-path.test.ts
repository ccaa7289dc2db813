// Naming and path claims (lib/stages/claim-path.ts) on a real LevelDB: a path is claimed by one attachment,
// the next gets its id before the extension, then a counter; an attachment's own claim is persisted (it vouches
// for the file after a crash). Claiming takes no signal: it is one store read per candidate.

import { join } from 'node:path';
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

t.test('--path-pattern: the folder every step asks for, per channel or per item', async (t) => {
  const world = await localWorld(t);
  const a = localItem(world.context, '31', { author_name: 'ann', timestamp: '2023-02-03T00:00:00.000Z' });
  const b = localItem(world.context, '32', { author_name: 'bob', timestamp: '2024-11-05T00:00:00.000Z' });
  t.equal(itemFolder({ out: world.out }, a), itemFolder(world.out, a), 'no pattern: the default layout');
  t.equal(itemFolder({ out: world.out, pathPattern: undefined }, a), itemFolder(world.out, a));
  const perChannel = { out: world.out, pathPattern: '{guild}/{channel}' };
  t.equal(itemFolder(perChannel, a), join(world.out, world.context.guild_name, world.context.channel_name));
  t.equal(itemFolder({ out: world.out, pathPattern: 'other/{channel_id}' }, a), join(world.out, 'other', world.context.channel_id), 'the cache is per pattern');
  t.equal(itemFolder(perChannel, b), itemFolder(perChannel, a), 'channel placeholders only: one folder per channel');
  const perItem = { out: world.out, pathPattern: '{author}/{year}/{month}' };
  t.equal(itemFolder(perItem, a), join(world.out, 'ann', '2023', '02'));
  t.equal(itemFolder(perItem, b), join(world.out, 'bob', '2024', '11'), 'per item: rendered for each');
  t.equal(itemFolder(perItem, a), join(world.out, 'ann', '2023', '02'), 'and not taken from the last item');

  const options = { ...world, namePattern: '{filename}', pathPattern: '{author}/{year}/{month}' };
  const claim = await claimPath(b, options);
  t.equal(claim.path, join(world.out, 'bob', '2024', '11', '32.png'), 'the claim is in the pattern folder');
  t.same(candidatePaths(b, options).path, claim.path, 'adoption looks where the claim is');
});

t.test('a folder shared by every channel: names alike get suffixed, never the same path', async (t) => {
  const world = await localWorld(t);
  const other = { ...world.context, channel_id: '777', channel_name: 'other' };
  const options = { ...world, namePattern: '{filename}', pathPattern: 'archive' };
  const a = localItem(world.context, '41', { unique_name: 'cat.png', filename: 'cat.png' });
  const b = localItem(other, '42', { unique_name: 'cat.png', filename: 'cat.png' });
  const c = localItem(other, '43', { unique_name: 'CAT.PNG', filename: 'CAT.PNG' });
  const paths = [(await claimPath(a, options)).path, (await claimPath(b, options)).path, (await claimPath(c, options)).path];
  t.same(paths, [join(world.out, 'archive', 'cat.png'), join(world.out, 'archive', 'cat_42.png'), join(world.out, 'archive', 'CAT_43.PNG')]);
});
