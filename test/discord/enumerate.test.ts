import t from 'tap';
import type { Test } from 'tap';
import { startFakeDiscord, type FakeDiscord } from '../../fixtures/fake-discord.js';
import { manyGuilds, singleChannel } from '../../fixtures/scenarios.js';
import { DiscordClient } from '../../lib/discord/client.js';
import {
  detectMessageContentIntent,
  listChannels,
  listGuilds,
  loadGuildAccess,
  looksLikeMissingIntent,
  type ChannelEntry,
} from '../../lib/discord/enumerate.js';
import { byName, enumerationScenario } from '../helpers/guild-scenario.js';

async function setup(t: Test, fake: FakeDiscord): Promise<DiscordClient> {
  const client = new DiscordClient({ token: fake.token, api: fake.api, retries: 0 });
  t.teardown(async () => {
    client.close();
    await fake.close();
  });
  return client;
}

async function all<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of source) out.push(item);
  return out;
}

const names = (entries: ChannelEntry[], pick: (e: ChannelEntry) => boolean): string[] =>
  entries
    .filter(pick)
    .map((e) => e.name)
    .sort();

t.test('listGuilds pages past 200 servers with `after`', async (t) => {
  const fake = await startFakeDiscord({ scenario: manyGuilds(450), rateLimit: { off: true } });
  const client = await setup(t, fake);
  const guilds = await all(listGuilds(client));
  t.equal(guilds.length, 450);
  t.equal(new Set(guilds.map((g) => g.id)).size, 450, 'each server once');
  t.same(Object.keys(guilds[0]!).sort(), ['id', 'name', 'owner', 'permissions']);
  const pages = fake.requests.filter((r) => r.route === 'GET /users/@me/guilds');
  t.equal(pages.length, 3, '200 + 200 + 50');
  t.same(
    pages.map((p) => p.query.limit),
    ['200', '200', '200'],
  );
  t.equal(pages[1]?.query.after, guilds[199]?.id, 'after = the last id of the previous page');
});

t.test('listGuilds stops on an empty page after exactly 200', async (t) => {
  const fake = await startFakeDiscord({ scenario: manyGuilds(200), rateLimit: { off: true } });
  const client = await setup(t, fake);
  t.equal((await all(listGuilds(client))).length, 200);
  t.equal(fake.requests.filter((r) => r.route === 'GET /users/@me/guilds').length, 2);
});

t.test('listChannels judges every channel and lists each readable thread once, without touching unreadable ones', async (t) => {
  const fake = await startFakeDiscord({ scenario: enumerationScenario(), rateLimit: { off: true } });
  const client = await setup(t, fake);
  const guild = fake.scenario.guilds[0]!;
  const entries = await all(listChannels(client, guild.id, { threads: true }));
  const channels = entries.filter((e) => !e.is_thread);
  const threads = entries.filter((e) => e.is_thread);

  t.same(
    names(channels, (e) => e.readable),
    ['archive', 'forum', 'general', 'mods', 'news', 'spicy'],
  );
  const reasons = Object.fromEntries(channels.filter((e) => !e.readable).map((e) => [e.name, e.reason]));
  t.same(reasons, { Cat: 'not_a_message_channel', Lounge: 'no_connect', hidden: 'no_view_channel', 'no-history': 'no_read_message_history' });
  t.equal(channels.find((e) => e.name === 'forum')?.threads_only, true, 'a forum is readable for its posts only');
  t.equal(channels.find((e) => e.name === 'spicy')?.nsfw, true);

  t.equal(new Set(threads.map((e) => e.id)).size, threads.length, 'each thread once');
  const readableThreads = names(threads, (e) => e.readable);
  t.equal(readableThreads.filter((n) => n.startsWith('old-')).length, 150, 'all 150 archived threads (has_more paging)');
  t.same(
    readableThreads.filter((n) => !n.startsWith('old-')),
    ['chat', 'mod-private', 'post-a', 'post-b', 'post-old-1', 'post-old-2', 'post-old-3', 'secret', 'spicy-thread'],
  );
  t.same(
    names(threads, (e) => !e.readable),
    ['nh-active'],
    'an active thread of a channel without history is listed as unreadable',
  );
  t.notOk(
    threads.some((e) => e.name === 'not-mine' || e.name === 'hidden-thread' || e.name === 'nh-archived'),
    'invisible threads never appear',
  );
  const secret = threads.find((e) => e.name === 'secret');
  t.equal(secret?.archived, true);
  t.equal(secret?.parent_id, byName(fake.scenario, 'general').id);
  t.equal(threads.find((e) => e.name === 'spicy-thread')?.nsfw, true, 'threads inherit NSFW from their parent');

  const unreadable = ['Lounge', 'hidden', 'no-history', 'Cat'].map((n) => byName(fake.scenario, n).id);
  t.same(
    fake.requests.filter((r) => r.channelId !== undefined && unreadable.includes(r.channelId)),
    [],
    'zero requests about unreadable channels',
  );
  t.equal(fake.requests.filter((r) => r.route === 'GET /channels/:id/messages').length, 0, 'no message requests at all');
  t.same(
    fake.requests.filter((r) => r.status >= 400).map((r) => `${r.status} ${r.path}`),
    [],
    'no refused request',
  );

  const archivePages = fake.requests.filter(
    (r) => r.route === 'GET /channels/:id/threads/archived/public' && r.channelId === byName(fake.scenario, 'archive').id,
  );
  t.equal(archivePages.length, 2, '150 archived threads = 2 pages of 100');
  t.equal(archivePages[0]?.query.limit, '100');
  t.match(archivePages[1]?.query.before, /^\d{4}-\d\d-\d\dT/, 'before = ISO8601 archive_timestamp');
  const mods = byName(fake.scenario, 'mods').id;
  t.ok(
    fake.requests.some((r) => r.route === 'GET /channels/:id/threads/archived/private' && r.channelId === mods),
    'MANAGE_THREADS: all private archived threads',
  );
  t.notOk(fake.requests.some((r) => r.route === 'GET /channels/:id/users/@me/threads/archived/private' && r.channelId === mods));
  const general = byName(fake.scenario, 'general').id;
  t.ok(
    fake.requests.some((r) => r.route === 'GET /channels/:id/users/@me/threads/archived/private' && r.channelId === general),
    'otherwise: joined private threads',
  );
  t.notOk(fake.requests.some((r) => r.route === 'GET /channels/:id/threads/archived/private' && r.channelId === general));
});

t.test('a thread archived between the active and the archived listing is yielded once', async (t) => {
  const fake = await startFakeDiscord({ scenario: enumerationScenario(), rateLimit: { off: true } });
  const client = await setup(t, fake);
  const chat = byName(fake.scenario, 'chat').id;
  const seen: string[] = [];
  for await (const entry of listChannels(client, fake.scenario.guilds[0]!.id, { threads: true })) {
    seen.push(entry.id);
    if (entry.id === chat) fake.archiveThread(chat); // the active listing is done; the archived ones are next
  }
  const moved = fake.requests.filter((r) => r.route === 'GET /channels/:id/threads/archived/public' && r.channelId === byName(fake.scenario, 'general').id);
  t.equal(moved.length, 1, 'the archived listing of general ran after the change');
  t.equal(seen.filter((id) => id === chat).length, 1);
});

t.test('the announced channel filtering (hidden channels omitted) gives the same readable set', async (t) => {
  const fake = await startFakeDiscord({ scenario: enumerationScenario(), rateLimit: { off: true }, obfuscateChannels: true });
  const client = await setup(t, fake);
  const entries = await all(listChannels(client, fake.scenario.guilds[0]!.id, { threads: false, skipNsfw: true }));
  t.notOk(entries.some((e) => e.name === 'hidden'));
  t.same(
    names(entries, (e) => e.readable),
    ['archive', 'forum', 'general', 'mods', 'news'],
  );
  t.equal(entries.find((e) => e.name === 'spicy')?.reason, 'nsfw');
  t.notOk(
    entries.some((e) => e.is_thread),
    'no threads unless asked',
  );
  t.notOk(
    fake.requests.some((r) => r.route.includes('threads')),
    'no thread requests',
  );
});

t.test('an unexpected 403 on one channel skips its threads, not the listing', async (t) => {
  const fake = await startFakeDiscord({ scenario: enumerationScenario(), rateLimit: { off: true } });
  const client = await setup(t, fake);
  const forum = byName(fake.scenario, 'forum').id;
  fake.forceStatus('GET /channels/:id/threads/archived/public', 403, 1, { channelId: forum });
  const warnings: string[] = [];
  const entries = await all(listChannels(client, fake.scenario.guilds[0]!.id, { threads: true, warn: (l) => warnings.push(l) }));
  t.notOk(
    entries.some((e) => e.name === 'post-old-1'),
    "the forum's archived posts are skipped",
  );
  t.ok(
    entries.some((e) => e.name === 'post-a'),
    'its active posts are still there',
  );
  t.equal(entries.filter((e) => e.name.startsWith('old-')).length, 150, 'other channels are listed');
  t.equal(warnings.length, 1);
});

t.test('loadGuildAccess reads roles, owner and the bot member', async (t) => {
  const fake = await startFakeDiscord({ scenario: enumerationScenario(), rateLimit: { off: true } });
  const client = await setup(t, fake);
  const guild = fake.scenario.guilds[0]!;
  const access = await loadGuildAccess(client, guild.id);
  t.equal(access.userId, fake.scenario.bot.id);
  t.equal(access.ownerId, guild.owner_id);
  t.equal(access.roles.get(guild.id), BigInt(guild.roles[0]!.permissions));
  t.same(access.memberRoles, guild.botRoles);
});

t.test('the MESSAGE_CONTENT intent: detected from the application, noticed on a stripped page', async (t) => {
  const fake = await startFakeDiscord({ scenario: singleChannel({ messages: 100, imageRatio: 0.5, mentionRate: 0.1 }), rateLimit: { off: true } });
  const client = await setup(t, fake);
  const channel = fake.scenario.guilds[0]!.channels[0]!.id;
  const bot = fake.scenario.bot.id;
  const page = () => client.get<Parameters<typeof looksLikeMissingIntent>[0]>(`/channels/${channel}/messages`, { query: { limit: '100' } });
  t.equal(await detectMessageContentIntent(client), true);
  t.equal(looksLikeMissingIntent(await page(), bot), false);
  fake.setOption({ messageContentIntent: false });
  t.equal(await detectMessageContentIntent(client), false);
  const stripped = await page();
  t.ok(
    stripped.some((m) => m.content !== ''),
    'messages mentioning the bot keep their content',
  );
  t.equal(looksLikeMissingIntent(stripped, bot), true);
  t.equal(looksLikeMissingIntent([]), false, 'an empty page says nothing');
  t.equal(looksLikeMissingIntent([{ type: 7, content: '' }]), false, 'system messages say nothing');
  t.equal(looksLikeMissingIntent([{ type: 0, content: '', sticker_items: [{}] }]), false, 'sticker-only messages say nothing');
  t.equal(looksLikeMissingIntent([{ type: 0, content: '', attachments: [], message_snapshots: [{ message: { content: 'x' } }] }]), false);
  t.equal(looksLikeMissingIntent([{ type: 0, content: '', author: { id: bot } }], bot), false, "the bot's own messages are exempt");
  fake.forceStatus('GET /applications/@me', 500, 5);
  t.equal(await detectMessageContentIntent(client), undefined, 'unknown on error');
});
