import t from 'tap';
import type { Test } from 'tap';
import { startFakeDiscord, type FakeDiscord } from '../../fixtures/fake-discord.js';
import { DiscordClient } from '../../lib/discord/client.js';
import { openTargets, resolveTargets, type ResolvedTargets } from '../../lib/discord/targets.js';
import { normalizeOptions, type ArchiveOptions } from '../../lib/options.js';
import { channelSkippedEvent } from '../../lib/output/events.js';
import type { DpsEvent } from '../../lib/output/events.js';
import { byName, enumerationScenario } from '../helpers/guild-scenario.js';

interface Resolved extends ResolvedTargets {
  events: DpsEvent[];
  names: string[];
}

async function start(t: Test): Promise<{ fake: FakeDiscord; resolve: (o?: Partial<ArchiveOptions>) => Promise<Resolved>; id: (name: string) => string }> {
  const fake = await startFakeDiscord({ scenario: enumerationScenario(), rateLimit: { off: true } });
  const client = new DiscordClient({ token: fake.token, api: fake.api, retries: 0 });
  t.teardown(async () => {
    client.close();
    await fake.close();
  });
  const guildId = fake.scenario.guilds[0]!.id;
  const resolve = async (o: Partial<ArchiveOptions> = {}): Promise<Resolved> => {
    const events: DpsEvent[] = [];
    const options = normalizeOptions({ token: fake.token, api: fake.api, guildId, ...o });
    const out = await resolveTargets(client, options, { onSkipped: (s) => events.push(channelSkippedEvent(s.context, s.reason, s.detail)) });
    return { ...out, events, names: out.channels.map((c) => c.context.channel_name).sort() };
  };
  return { fake, resolve, id: (name) => byName(fake.scenario, name).id };
}

const OLD = Array.from({ length: 150 }, (_, i) => `old-${i}`);
const POSTS = ['post-a', 'post-b', 'post-old-1', 'post-old-2', 'post-old-3'];
const skippedOf = (events: DpsEvent[]) => events.map((e) => (e.event === 'skipped' ? [e.channel_id, e.reason, e.detail] : [e.event]));

t.test('--all-channels: every readable channel and thread, one skipped event per unreadable or NSFW channel', async (t) => {
  const { fake, resolve, id } = await start(t);
  const got = await resolve({ allChannels: true });
  t.same(got.names, [...OLD, 'archive', 'chat', 'general', 'mod-private', 'mods', 'news', ...POSTS, 'secret'].sort());
  t.same(
    skippedOf(got.events).sort(),
    [
      [id('Lounge'), 'no_access', 'missing CONNECT (voice and stage channels need it to read their text chat)'],
      [id('hidden'), 'no_access', 'missing VIEW_CHANNEL'],
      [id('no-history'), 'no_access', 'missing READ_MESSAGE_HISTORY'],
      [id('spicy'), 'nsfw', 'age-restricted (NSFW) channel; pass --include-nsfw to archive it'],
    ].sort(),
  );
  t.equal(got.denied, 0, 'unreadable channels of --all-channels are not an error');
  t.equal(got.skipped, 4);
  const post = got.channels.find((c) => c.context.channel_name === 'post-a');
  t.same(post?.context, {
    guild_id: fake.scenario.guilds[0]!.id,
    guild_name: 'Enum Server',
    channel_id: id('post-a'),
    channel_name: 'post-a',
    parent_id: id('forum'),
    parent_name: 'forum',
    parent_type: 15, // a forum: the thread is a post (issue 25)
  });
  t.equal(post?.type, 11);
  const general = got.channels.find((c) => c.context.channel_name === 'general');
  t.equal(general?.context.parent_id, undefined, 'a category is not a thread parent');
  const unreadable = ['Lounge', 'hidden', 'no-history', 'spicy', 'forum', 'Cat'].map(id);
  t.same(
    fake.requests.filter((r) => r.route === 'GET /channels/:id/messages' && unreadable.includes(r.channelId ?? '')),
    [],
  );
  t.notOk(
    fake.requests.some((r) => r.channelId === id('spicy')),
    'NSFW channels are not even listed for threads',
  );
  t.same(
    fake.requests.filter((r) => r.status >= 400),
    [],
    'no refused request',
  );
});

t.test('--all-channels with --include-nsfw, --exclude-channel, --no-threads', async (t) => {
  const { fake, resolve, id } = await start(t);
  const got = await resolve({ allChannels: true, includeNsfw: true, excludeChannelIds: [id('archive'), id('post-b')] });
  t.ok(got.names.includes('spicy') && got.names.includes('spicy-thread'));
  t.notOk(
    got.names.some((n) => n === 'archive' || n.startsWith('old-') || n === 'post-b'),
    'excluded channels and their threads',
  );
  t.notOk(
    fake.requests.some((r) => r.channelId === id('archive')),
    'no thread listing for an excluded channel',
  );
  t.equal(got.events.length, 3, 'excluded channels emit nothing');
  const flat = await resolve({ allChannels: true, threads: false });
  t.same(flat.names, ['archive', 'general', 'mods', 'news']);
});

t.test('requested channels: forums expand into posts, text channels bring their threads, duplicates collapse', async (t) => {
  const { fake, resolve, id } = await start(t);
  const forum = await resolve({ channelIds: [id('forum')] });
  t.same(forum.names, POSTS);
  t.ok(forum.channels.every((c) => c.context.parent_id === id('forum') && c.context.parent_name === 'forum'));
  t.ok(
    forum.channels.every((c) => c.context.parent_type === 15),
    "a post knows its parent's type (issue 25)",
  );
  t.notOk(
    fake.requests.some((r) => r.route === 'GET /channels/:id/messages'),
    'never the forum messages',
  );
  const general = await resolve({ channelIds: [id('general'), id('chat'), id('secret')] });
  t.same(general.names, ['chat', 'general', 'secret'], 'each once');
  const plain = await resolve({ channelIds: [id('general')], threads: false });
  t.same(plain.names, ['general']);
  const thread = await resolve({ channelIds: [id('secret')] });
  t.same(thread.channels[0]?.context, {
    guild_id: fake.scenario.guilds[0]!.id,
    guild_name: 'Enum Server',
    channel_id: id('secret'),
    channel_name: 'secret',
    parent_id: id('general'),
    parent_name: 'general',
    parent_type: 0, // a text channel's thread (issue 25)
  });
});

t.test('requested channels that cannot be read: one fails the run, several are skipped, without a 403', async (t) => {
  const { fake, resolve, id } = await start(t);
  const unknown = '123456789012345678';
  await t.rejects(resolve({ channelIds: [unknown] }), { code: 'DPS_NOT_FOUND' });
  await t.rejects(resolve({ channelIds: [id('hidden')] }), { code: 'DPS_ACCESS', message: /missing VIEW_CHANNEL/ });
  await t.rejects(resolve({ channelIds: [id('no-history')] }), { code: 'DPS_ACCESS', message: /READ_MESSAGE_HISTORY/ });
  await t.rejects(resolve({ channelIds: [id('Lounge')] }), { code: 'DPS_ACCESS', message: /CONNECT/ });
  await t.rejects(resolve({ channelIds: [id('forum')], threads: false }), { code: 'DPS_USAGE' });
  t.same(
    fake.requests.filter((r) => r.status === 403),
    [],
    'permissions were checked before asking',
  );
  const several = await resolve({ channelIds: [id('news'), id('hidden'), unknown, id('Cat')] });
  t.same(several.names, ['news']);
  t.equal(several.denied, 2);
  t.equal(several.skipped, 1, 'the category');
  t.same(
    skippedOf(several.events).map((e) => e.slice(0, 2)),
    [
      [id('hidden'), 'no_access'],
      [unknown, 'not_found'],
      [id('Cat'), 'not_a_message_channel'],
    ],
  );
  await t.rejects(resolve({ channelIds: [id('news'), id('hidden')], failOnChannelError: true }), { code: 'DPS_ACCESS' });
});

t.test('requested channels when the server channel list is filtered (hidden ones omitted)', async (t) => {
  const { fake, resolve, id } = await start(t);
  fake.setOption({ obfuscateChannels: true });
  await t.rejects(resolve({ channelIds: [id('hidden')] }), { code: 'DPS_ACCESS' });
  t.equal(fake.requests.filter((r) => r.status === 403).length, 1, 'Discord is asked, and says no');
  t.same((await resolve({ channelIds: [id('general')], threads: false })).names, ['general']);
});

t.test('--all-channels streams its targets: channels come before any thread is listed, the rest as found', async (t) => {
  const { fake, resolve, id } = await start(t);
  const whole = await resolve({ allChannels: true });
  fake.resetLog();
  const client = new DiscordClient({ token: fake.token, api: fake.api, retries: 0 });
  t.teardown(() => client.close());
  const options = normalizeOptions({ token: fake.token, api: fake.api, guildId: fake.scenario.guilds[0]!.id, allChannels: true, channelConcurrency: 2 });
  const stream = await openTargets(client, options);
  const iterator = stream.channels[Symbol.asyncIterator]();
  const first = await iterator.next();
  t.equal(first.value?.context.channel_name, 'general', 'the first channel, in channel order');
  t.same(
    fake.requests.filter((r) => r.route.includes('/threads')),
    [],
    'no thread listing was needed for it',
  );
  const names = [first.value!.context.channel_name];
  for (let next = await iterator.next(); !next.done; next = await iterator.next()) names.push(next.value.context.channel_name);
  t.same(names.slice().sort(), whole.names, 'the same targets as resolved at once');
  t.equal(new Set(names).size, names.length, 'each once');
  t.same([stream.denied, stream.skipped], [whole.denied, whole.skipped]);
  t.ok(names.indexOf('news') < names.indexOf('chat'), 'channels before threads');
  t.notOk(fake.requests.some((r) => r.channelId === id('spicy')));
});
