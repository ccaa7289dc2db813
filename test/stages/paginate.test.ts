// The source stage against the fake Discord: every message of a channel once, in pages that carry the channel's
// context, each page shown to onPage; an abort before or during the walk stops it with no request after it.

import t from 'tap';
import type { Test } from 'tap';
import { startFakeDiscord } from '../../fixtures/fake-discord.js';
import { singleChannel } from '../../fixtures/scenarios.js';
import { DiscordClient } from '../../lib/discord/client.js';
import { paginate } from '../../lib/stages/paginate.js';
import type { ChannelContext, ChannelPage } from '../../lib/types.js';

const MESSAGES = 450; // five pages of at most 100

async function start(t: Test) {
  const fake = await startFakeDiscord({ scenario: singleChannel({ messages: MESSAGES, imageRatio: 0, gapRate: 0 }), rateLimit: { off: true } });
  t.teardown(() => fake.close());
  const client = new DiscordClient({ token: fake.token, api: fake.api, retries: 0 });
  t.teardown(() => client.close());
  const channel = fake.scenario.guilds[0]!.channels[0]!;
  const context: ChannelContext = { guild_id: fake.scenario.guilds[0]!.id, guild_name: 'G', channel_id: channel.id, channel_name: 'c' };
  const historyRequests = (): number => fake.requests.filter((r) => r.route === 'GET /channels/:id/messages').length;
  return { client, context, historyRequests };
}

t.test('every message once, in pages with the channel context; onPage sees each page with messages', async (t) => {
  const { client, context } = await start(t);
  const seen: number[] = [];
  const ids = new Set<string>();
  for await (const page of paginate(context, { client, after: '0', onPage: (messages) => seen.push(messages.length) })) {
    t.equal(page.context, context);
    for (const message of page.messages) ids.add(message.id);
  }
  t.equal(ids.size, MESSAGES);
  t.equal(
    seen.reduce((a, b) => a + b, 0),
    MESSAGES,
    'onPage saw every message',
  );
});

t.test('aborted before start: rejects with the reason, no history request', async (t) => {
  const { client, context, historyRequests } = await start(t);
  const controller = new AbortController();
  controller.abort(new Error('stop'));
  const pages: ChannelPage[] = [];
  await t.rejects(async () => {
    for await (const page of paginate(context, { client, after: '0', signal: controller.signal })) pages.push(page);
  });
  t.same(pages, []);
  t.equal(historyRequests(), 0);
});

t.test('aborted mid-flight: no page after the abort, and the walk stops', async (t) => {
  const { client, context, historyRequests } = await start(t);
  const controller = new AbortController();
  let pages = 0;
  await t.rejects(async () => {
    for await (const page of paginate(context, { client, after: '0', signal: controller.signal })) {
      if (page.messages.length > 0) pages++;
      controller.abort(new Error('stop'));
    }
  });
  t.equal(pages, 1, 'the page in hand when the abort came, none after it');
  const made = historyRequests();
  t.ok(made < Math.ceil(MESSAGES / 100), `not every page was requested (${made})`);
});
