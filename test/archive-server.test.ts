// Whole servers: every readable channel, thread and forum post (and forwards, components, embeds, stickers)
// archived exactly; unreadable channels cost no message request; channels run in parallel within limits.

import t from 'tap';
import { join } from 'node:path';
import { startFakeDiscord } from '../fixtures/fake-discord.js';
import { CT, P } from '../fixtures/model.js';
import { buildScenario } from '../fixtures/scenarios.js';
import { collect, runCli, runLibrary } from './helpers/harness.js';
import { eventsOf } from './helpers/events.js';

function serverScenario() {
  return buildScenario({
    seed: 5,
    authors: 3,
    guilds: [
      {
        name: 'Whole Server',
        channels: [
          { name: 'Cat', type: CT.CATEGORY },
          {
            name: 'general',
            parent: 'Cat',
            messages: 120,
            imageRatio: 0.3,
            special: 'rich',
            threads: [
              { name: 'side', messages: 20, imageRatio: 0.5 },
              { name: 'old-side', messages: 10, imageRatio: 0.5, archived: true },
              { name: 'private', type: 12, messages: 8, imageRatio: 0.5, archived: true, botIsMember: true },
            ],
          },
          { name: 'news', type: CT.ANNOUNCEMENT, messages: 40, imageRatio: 0.3 },
          { name: 'Lounge', type: CT.VOICE, messages: 30, imageRatio: 0.3 },
          { name: 'Muted', type: CT.VOICE, messages: 30, imageRatio: 0.3, overwrites: [{ target: 'everyone', deny: P.CONNECT }] },
          {
            name: 'hidden',
            messages: 40,
            imageRatio: 0.3,
            overwrites: [{ target: 'everyone', deny: P.VIEW_CHANNEL }],
            threads: [{ name: 'hidden-thread', messages: 5, imageRatio: 1 }],
          },
          { name: 'no-history', messages: 40, imageRatio: 0.3, overwrites: [{ target: 'everyone', deny: P.READ_MESSAGE_HISTORY }] },
          {
            name: 'gallery',
            type: CT.FORUM,
            threads: [
              { name: 'post-1', messages: 6, imageRatio: 1 },
              { name: 'post-2', messages: 6, imageRatio: 1, archived: true },
            ],
          },
          { name: 'spicy', nsfw: true, messages: 20, imageRatio: 0.5 },
        ],
      },
    ],
  });
}

t.test('--all-channels archives exactly what the bot can read, once, within the limits', async (t) => {
  const fake = await startFakeDiscord({ scenario: serverScenario() });
  t.teardown(() => fake.close());
  const dir = t.testdir();
  const guild = fake.scenario.guilds[0]!;
  const byId = new Map(guild.channels.map((c) => [c.id, c]));
  const nsfw = new Set(guild.channels.filter((c) => c.nsfw || (c.parent_id && byId.get(c.parent_id)?.nsfw)).map((c) => c.id));
  const options = {
    token: fake.token,
    api: fake.api,
    guildId: guild.id,
    allChannels: true,
    embeds: true,
    stickers: true,
    types: 'all',
    out: join(dir, 'out'),
    state: join(dir, 'state'),
    channelConcurrency: 2,
    concurrency: 3,
  };
  const run = await runLibrary(options);
  t.equal(run.result.exitCode, 0, 'unreadable channels are not an error under --all-channels');

  const expected = (await collect(fake.expected({ guildId: guild.id, readableOnly: true, includeEmbeds: true, includeStickers: true }))).filter(
    (e) => !nsfw.has(e.channel_id),
  );
  const saved = eventsOf(run.events, 'saved');
  t.same(
    [...new Set(saved.map((s) => s.channel_id))].sort(),
    [...new Set(expected.map((e) => e.channel_id))].sort(),
    'every readable channel and thread, no other',
  );
  t.same([...new Set(saved.map((s) => s.sha256))].sort(), [...new Set(expected.map((e) => e.sha256))].sort(), 'the same bytes as the fake holds');
  t.equal(new Set(saved.map((s) => s.attachment_id)).size, saved.length, 'no file saved twice');
  for (const source of ['attachment', 'forward', 'component', 'embed', 'sticker'])
    t.ok(
      saved.some((s) => s.source === source),
      `source ${source} present`,
    );

  const unreadable = guild.channels.filter((c) => ['hidden', 'hidden-thread', 'no-history', 'Muted', 'spicy'].includes(c.name)).map((c) => c.id);
  const touched = fake.requests.filter((r) => r.route.startsWith('GET /channels/:id/messages') && unreadable.includes(r.channelId ?? ''));
  t.same(
    touched.map((r) => r.path),
    [],
    'unreadable channels cost zero message requests',
  );
  const skipped = eventsOf(run.events, 'skipped').filter((e) => e.attachment_id === undefined);
  for (const name of ['hidden', 'no-history', 'Muted', 'spicy']) {
    const id = guild.channels.find((c) => c.name === name)!.id;
    t.equal(skipped.filter((s) => s.channel_id === id).length, 1, `${name} reported once as skipped`);
  }
  t.equal(fake.stats.status429, 0, 'no 429 while the headers are honoured');
  t.ok(fake.stats.cdnMaxConcurrent <= 3, `downloads in flight never above --concurrency (max ${fake.stats.cdnMaxConcurrent})`);
  // Channels are archived while the server's threads are still being listed (at most --channel-concurrency
  // listings at once): 2 channels + 2 listings.
  t.ok(fake.stats.apiMaxConcurrent <= 4, `API requests in flight never above twice --channel-concurrency (max ${fake.stats.apiMaxConcurrent})`);
  const done = eventsOf(run.events, 'channel_done');
  t.equal(new Set(done.map((d) => d.channel_id)).size, done.length, 'each channel and thread archived once');
  t.ok(
    done.some((d) => d.parent_id),
    'threads carry their parent',
  );

  // The active thread is archived between runs: the next run does not archive it again.
  const side = guild.channels.find((c) => c.name === 'side')!;
  fake.archiveThread(side.id);
  fake.resetLog();
  const again = await runLibrary(options);
  t.equal(again.events.filter((e) => e.event === 'saved').length, 0, 'nothing new, nothing again');
  t.equal(fake.requests.filter((r) => r.kind === 'cdn').length, 0, 'no downloads on the second run');
});

t.test('dps channels | filter readable | dps scrape --channel-id - (stdin)', async (t) => {
  const fake = await startFakeDiscord({ scenario: serverScenario() });
  t.teardown(() => fake.close());
  const dir = t.testdir();
  const guild = fake.scenario.guilds[0]!;
  const env = { DISCORD_TOKEN: fake.token, DISCORD_API_URL: fake.api };
  const listed = await runCli(['channels', '--server-id', guild.id, '--threads'], { env });
  t.equal(listed.code, 0, listed.stderr);
  const readable = listed.lines.filter((l) => l.readable === true && l.nsfw !== true && l.type !== 15 && l.type !== 4);
  t.ok(readable.length >= 6, `${readable.length} readable channels and threads listed`);
  const input = readable.map((l) => JSON.stringify(l)).join('\n');
  const scraped = await runCli(
    ['scrape', '--server-id', guild.id, '--channel-id', '-', '--no-threads', '--types', 'all', '--out', join(dir, 'out'), '--state', join(dir, 'state')],
    { env, input },
  );
  t.equal(scraped.code, 0, scraped.stderr);
  const done = scraped.lines
    .filter((l) => l.event === 'channel_done')
    .map((l) => l.channel_id)
    .sort();
  t.same(done, readable.map((l) => l.id).sort(), 'exactly the piped channels were archived');
});

t.test('--all-channels archives the first channels while the threads of the server are still being listed', async (t) => {
  const threads = (prefix: string) => Array.from({ length: 3 }, (_, i) => ({ name: `${prefix}-${i}`, messages: 1, archived: true }));
  const scenario = buildScenario({
    seed: 9,
    guilds: [{ name: 'Busy Server', channels: ['a', 'b', 'c', 'd'].map((name) => ({ name, messages: 30, imageRatio: 0.2, threads: threads(name) })) }],
  });
  const fake = await startFakeDiscord({ scenario, rateLimit: { latencyMs: 20 } });
  t.teardown(() => fake.close());
  const dir = t.testdir();
  const guild = fake.scenario.guilds[0]!;
  const run = await runLibrary({
    token: fake.token,
    api: fake.api,
    guildId: guild.id,
    allChannels: true,
    out: join(dir, 'out'),
    state: join(dir, 'state'),
    channelConcurrency: 2,
  });
  t.equal(run.result.exitCode, 0);
  const listing = fake.requests.filter((r) => r.route.includes('/threads/archived')).map((r) => r.at);
  const history = fake.requests.filter((r) => r.route === 'GET /channels/:id/messages').map((r) => r.at);
  t.equal(listing.length, 8, 'archived public and private threads of 4 channels');
  t.ok(Math.min(...history) < Math.max(...listing), 'the first history request came before the last thread listing');
  const done = eventsOf(run.events, 'channel_done');
  t.equal(done.length, 4 + 4 * 3, 'every channel and thread archived');
  t.equal(new Set(done.map((d) => d.channel_id)).size, done.length, 'each once');
});

t.test('failOnChannelError: an unreadable requested channel stops the run before any channel is archived', async (t) => {
  const fake = await startFakeDiscord({ scenario: serverScenario() });
  t.teardown(() => fake.close());
  const dir = t.testdir();
  const guild = fake.scenario.guilds[0]!;
  const id = (name: string) => guild.channels.find((c) => c.name === name)!.id;
  const options = {
    token: fake.token,
    api: fake.api,
    guildId: guild.id,
    channelIds: [id('general'), id('hidden')],
    failOnChannelError: true,
    out: join(dir, 'out'),
    state: join(dir, 'state'),
  };
  await t.rejects(runLibrary(options), { code: 'DPS_ACCESS' });
  t.same(
    fake.requests.filter((r) => r.route === 'GET /channels/:id/messages'),
    [],
    'no history was read',
  );
});
