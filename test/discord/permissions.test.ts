import t from 'tap';
import {
  ADMINISTRATOR,
  ALL_PERMISSIONS,
  CONNECT,
  MANAGE_THREADS,
  READ_MESSAGE_HISTORY,
  VIEW_CHANNEL,
  basePermissions,
  computePermissions,
  readability,
  type GuildAccess,
  type Overwrite,
} from '../../lib/discord/permissions.js';

const GUILD = '100';
const BOT = '200';
const ROLE_A = '301';
const ROLE_B = '302';
const READ = VIEW_CHANNEL | READ_MESSAGE_HISTORY;

function access(everyone: bigint, roles: Record<string, bigint> = {}, memberRoles: string[] = [], ownerId = '999'): GuildAccess {
  return { guildId: GUILD, ownerId, userId: BOT, roles: new Map([[GUILD, everyone], ...Object.entries(roles)]), memberRoles };
}
const ow = (id: string, type: 0 | 1, allow = 0n, deny = 0n): Overwrite => ({ id, type, allow: allow.toString(), deny: deny.toString() });
const text = (overwrites: Overwrite[] = []) => ({ type: 0, permission_overwrites: overwrites });

t.test('the owner has every permission, whatever the overwrites', async (t) => {
  const a = access(0n, {}, [], BOT);
  t.equal(basePermissions(a), ALL_PERMISSIONS);
  t.equal(computePermissions(a, text([ow(GUILD, 0, 0n, VIEW_CHANNEL), ow(BOT, 1, 0n, VIEW_CHANNEL)])), ALL_PERMISSIONS);
});

t.test('ADMINISTRATOR from any role bypasses overwrites', async (t) => {
  const a = access(VIEW_CHANNEL, { [ROLE_A]: ADMINISTRATOR }, [ROLE_A]);
  t.equal(computePermissions(a, text([ow(GUILD, 0, 0n, VIEW_CHANNEL), ow(BOT, 1, 0n, READ)])), ALL_PERMISSIONS);
  t.equal(computePermissions(access(ADMINISTRATOR), text([ow(GUILD, 0, 0n, READ)])), ALL_PERMISSIONS, 'on @everyone too');
  t.equal(computePermissions(access(0n, { [ROLE_A]: ADMINISTRATOR }, []), text()), 0n, 'a role the bot lacks does not count');
});

t.test('base permissions are @everyone OR the member roles', async (t) => {
  const a = access(VIEW_CHANNEL, { [ROLE_A]: READ_MESSAGE_HISTORY, [ROLE_B]: CONNECT }, [ROLE_A]);
  t.equal(basePermissions(a), READ);
  t.equal(computePermissions(a, text()), READ);
});

t.test('@everyone deny is undone by a role allow; role overwrites are OR-ed together', async (t) => {
  const a = access(READ, { [ROLE_A]: 0n, [ROLE_B]: 0n }, [ROLE_A, ROLE_B]);
  const channel = text([ow(GUILD, 0, 0n, VIEW_CHANNEL), ow(ROLE_A, 0, VIEW_CHANNEL), ow(ROLE_B, 0, 0n, VIEW_CHANNEL)]);
  t.equal(computePermissions(a, channel), READ, 'allow wins over deny among role overwrites');
  const other = access(READ, { [ROLE_A]: 0n }, []);
  t.equal(computePermissions(other, channel), 0n, 'without the role the @everyone deny stands');
});

t.test('the member overwrite beats role overwrites', async (t) => {
  const a = access(VIEW_CHANNEL, { [ROLE_A]: 0n }, [ROLE_A]);
  const channel = text([ow(ROLE_A, 0, READ_MESSAGE_HISTORY), ow(BOT, 1, 0n, READ_MESSAGE_HISTORY)]);
  t.equal(computePermissions(a, channel), VIEW_CHANNEL);
  const allowed = text([ow(ROLE_A, 0, 0n, READ_MESSAGE_HISTORY), ow(BOT, 1, READ_MESSAGE_HISTORY)]);
  t.equal(computePermissions(a, allowed), READ);
  t.equal(computePermissions(a, text([{ id: BOT, type: 'member', allow: '0', deny: String(VIEW_CHANNEL) }])), 0n, 'string overwrite types');
});

t.test('a denied VIEW_CHANNEL implies no permission at all', async (t) => {
  const a = access(READ | CONNECT | MANAGE_THREADS);
  const perms = computePermissions(a, text([ow(GUILD, 0, READ_MESSAGE_HISTORY, VIEW_CHANNEL)]));
  t.equal(perms, 0n);
  t.same(readability({ type: 0 }, perms), { readable: false, reason: 'no_view_channel', detail: 'missing VIEW_CHANNEL' });
});

t.test('readability: history, CONNECT for voice and stage, categories, forums, nsfw', async (t) => {
  t.same(readability({ type: 0 }, READ), { readable: true });
  t.equal(readability({ type: 0 }, VIEW_CHANNEL).reason, 'no_read_message_history');
  t.equal(readability({ type: 2 }, READ).reason, 'no_connect');
  t.equal(readability({ type: 13 }, READ).reason, 'no_connect');
  t.same(readability({ type: 2 }, READ | CONNECT), { readable: true });
  t.equal(readability({ type: 4 }, ALL_PERMISSIONS).reason, 'not_a_message_channel');
  t.equal(readability({ type: 14 }, ALL_PERMISSIONS).reason, 'not_a_message_channel');
  t.same(readability({ type: 15 }, READ), { readable: true, threads_only: true });
  t.same(readability({ type: 16 }, VIEW_CHANNEL), {
    readable: false,
    reason: 'no_read_message_history',
    detail: 'missing READ_MESSAGE_HISTORY',
    threads_only: true,
  });
  t.same(readability({ type: 0, nsfw: true }, READ), { readable: true }, 'nsfw is only a filter on request');
  t.equal(readability({ type: 0, nsfw: true }, READ, { skipNsfw: true }).reason, 'nsfw');
  t.equal(readability({ type: 0, nsfw: true }, 0n, { skipNsfw: true }).reason, 'no_view_channel', 'access problems come first');
});

t.test('threads inherit the parent channel; private threads need membership or MANAGE_THREADS', async (t) => {
  const a = access(READ);
  const hidden = text([ow(GUILD, 0, 0n, VIEW_CHANNEL)]);
  const open = text();
  t.equal(computePermissions(a, { type: 11 }, open), READ);
  t.equal(computePermissions(a, { type: 11 }, hidden), 0n, 'a hidden parent hides its threads');
  t.equal(computePermissions(a, { type: 11, permission_overwrites: [ow(GUILD, 0, 0n, VIEW_CHANNEL)] }, open), READ, "a thread's own overwrites are ignored");
  t.equal(computePermissions(a, { type: 12 }, open), 0n, 'private, not joined');
  t.equal(computePermissions(a, { type: 12, joined: true }, open), READ, 'private, joined');
  t.equal(computePermissions(a, { type: 12, member: { id: '1' } }, open), READ, 'private, member object present');
  t.equal(computePermissions(access(READ | MANAGE_THREADS), { type: 12 }, open), READ | MANAGE_THREADS, 'private, MANAGE_THREADS');
  const moderator = text([ow(GUILD, 0, MANAGE_THREADS)]);
  t.equal(computePermissions(a, { type: 12 }, moderator), READ | MANAGE_THREADS, 'MANAGE_THREADS granted by the parent overwrite');
});

t.test('malformed permission strings count as nothing', async (t) => {
  const a: GuildAccess = { guildId: GUILD, ownerId: '1', userId: BOT, roles: new Map([[GUILD, 0n]]), memberRoles: [] };
  t.equal(computePermissions(a, { type: 0, permission_overwrites: [{ id: GUILD, type: 0, allow: 'nope', deny: '-1' }] }), 0n);
});
