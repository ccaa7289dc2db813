// Ordering and cursor logic against the fake's newest-first pages: every message exactly once, ascending,
// across deleted-message gaps, stopping at the snapshot taken before the first page.

import t from 'tap';
import { startFakeDiscord } from '../../fixtures/fake-discord.js';
import { singleChannel } from '../../fixtures/scenarios.js';
import { DiscordClient } from '../../lib/discord/client.js';
import { channelHistory } from '../../lib/discord/pages.js';
import { compareSnowflakes } from '../../lib/discord/snowflake.js';

t.test('every message once, ascending, across gaps; messages posted mid-walk wait for the next run', async (t) => {
  const fake = await startFakeDiscord({ scenario: singleChannel({ messages: 1234, gapRate: 0.1, imageRatio: 0 }) });
  t.teardown(() => fake.close());
  const channelId = fake.scenario.guilds[0]!.channels[0]!.id;
  const client = new DiscordClient({ token: fake.token, api: fake.api });
  t.teardown(() => client.close());

  const ids: string[] = [];
  let appended = false;
  for await (const page of channelHistory(client, channelId, { after: '0' })) {
    for (const message of page.messages) ids.push(message.id);
    if (!appended) {
      await fake.appendMessages(channelId, 30);
      appended = true;
    }
  }
  t.equal(new Set(ids).size, ids.length, 'no duplicates');
  t.ok(ids.every((id, i) => i === 0 || compareSnowflakes(ids[i - 1]!, id) < 0), 'strictly ascending');
  t.ok(ids.length > 1000 && ids.length < 1234, `gaps skipped: ${ids.length} of 1234 indices exist`);

  // Walk again from the last id: exactly the 30 appended messages, nothing before them.
  const more: string[] = [];
  for await (const page of channelHistory(client, channelId, { after: ids.at(-1)! })) more.push(...page.messages.map((m) => m.id));
  const everything: string[] = [];
  for await (const page of channelHistory(client, channelId, { after: '0' })) everything.push(...page.messages.map((m) => m.id));
  t.ok(more.length > 20 && more.length <= 30, `${more.length} of the 30 appended indices exist (the rest are gaps)`);
  t.same([...ids, ...more], everything, 'first walk + second walk = the whole channel, nothing twice, nothing missed');

  // And from the newest id: one request (the snapshot), no pages.
  fake.resetLog();
  for await (const page of channelHistory(client, channelId, { after: more.at(-1)! })) t.fail(`unexpected page of ${page.messages.length}`);
  t.equal(fake.requests.filter((r) => r.route === 'GET /channels/:id/messages').length, 1, 'a caught-up channel costs one request');
});

t.test('a before bound stops the walk early', async (t) => {
  const fake = await startFakeDiscord({ scenario: singleChannel({ messages: 300, imageRatio: 0 }) });
  t.teardown(() => fake.close());
  const channelId = fake.scenario.guilds[0]!.channels[0]!.id;
  const client = new DiscordClient({ token: fake.token, api: fake.api });
  t.teardown(() => client.close());
  const all: string[] = [];
  for await (const page of channelHistory(client, channelId, { after: '0' })) all.push(...page.messages.map((m) => m.id));
  const bound = all[150]!;
  const some: string[] = [];
  for await (const page of channelHistory(client, channelId, { after: all[9]!, before: bound })) some.push(...page.messages.map((m) => m.id));
  t.same(some, all.slice(10, 150), 'exactly the messages strictly between the bounds');
});
