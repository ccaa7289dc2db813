// lib/discord/refresh.ts against the fake: expired links renewed through POST /attachments/refresh-urls in
// batches, the message re-fetched when that fails, a deleted message told apart as `gone`, and aborts. The
// fake's links live by a clock the test moves (and so does the refresher's batching), so nothing waits.
import t from 'tap';
import type { Test } from 'tap';
import type { APIMessage } from 'discord-api-types/v10';
import { startFakeDiscord } from '../../fixtures/fake-discord.js';
import type { FakeDiscord } from '../../fixtures/fake-discord.js';
import { requestsSeen, startHangingServer } from '../../fixtures/hanging-server.js';
import { ManualClock, settle } from '../helpers/manual-clock.js';
import { singleChannel } from '../../fixtures/scenarios.js';
import { DiscordClient } from '../../lib/discord/client.js';
import { isExpired } from '../../lib/discord/download.js';
import { mediaOf } from '../../lib/discord/media.js';
import { REFRESH_BATCH, UrlRefresher } from '../../lib/discord/refresh.js';

const LIFETIME_S = 60;

interface Setup {
  fake: FakeDiscord;
  client: DiscordClient;
  clock: ManualClock;
  items: Array<{ url: string; channelId: string; messageId: string; attachmentId: string }>;
}

async function setup(t: Test, messages = 40): Promise<Setup> {
  const clock = new ManualClock(Date.now());
  const fake = await startFakeDiscord({
    scenario: singleChannel({ seed: 31, messages, imageRatio: 1, sizes: [500, 1_000] }),
    linkLifetimeSec: LIFETIME_S,
    linkClock: () => clock.now(),
  });
  const client = new DiscordClient({ token: fake.token, api: fake.api, backoffMs: 5 });
  t.teardown(async () => {
    client.close();
    await fake.close();
  });
  const channelId = fake.scenario.guilds[0]!.channels[0]!.id;
  const page = await client.get<APIMessage[]>(`/channels/${channelId}/messages`, { query: { limit: '100' } });
  const items = page.flatMap((message) => mediaOf(message).map((m) => ({ url: m.url, channelId, messageId: message.id, attachmentId: m.id })));
  fake.resetLog();
  return { fake, client, clock, items };
}

const refreshCalls = (fake: FakeDiscord): number => fake.requests.filter((r) => r.route === 'POST /attachments/refresh-urls').length;

t.test('expired links are renewed in one batch after the batching delay', async (t) => {
  const { fake, client, clock, items } = await setup(t);
  await clock.advance((LIFETIME_S + 1) * 1000);
  t.ok(isExpired(items[0]!.url, clock.now()), 'the link has expired by the fake clock');
  const refresher = new UrlRefresher(client, undefined, 25, clock);
  const renewed = Promise.all(items.slice(0, 3).map((item) => refresher.refresh(item)));
  await settle();
  t.equal(refreshCalls(fake), 0, 'nothing is sent before the batching delay');
  await clock.advance(25);
  const urls = await renewed;
  t.equal(refreshCalls(fake), 1, 'three links, one request');
  for (const [i, url] of urls.entries()) {
    t.ok(url && url !== items[i]!.url, `link ${i} renewed`);
    t.notOk(isExpired(url!, clock.now()), `link ${i} is live again`);
  }
  t.equal(refresher.refreshed, 3);
});

t.test(`more than ${REFRESH_BATCH} links go in batches of ${REFRESH_BATCH}`, async (t) => {
  const { fake, client, clock, items } = await setup(t, 60);
  t.ok(items.length > REFRESH_BATCH, `${items.length} links`);
  const refresher = new UrlRefresher(client, undefined, 25, clock);
  const renewed = Promise.all(items.map((item) => refresher.refresh(item)));
  await clock.advance(0);
  await clock.advance(25);
  t.ok((await renewed).every((url) => typeof url === 'string'));
  t.equal(refreshCalls(fake), Math.ceil(items.length / REFRESH_BATCH));
});

t.test('when refresh-urls fails, the message is re-fetched; a deleted message is gone', async (t) => {
  const { fake, client, clock, items } = await setup(t);
  fake.forceStatus('POST /attachments/refresh-urls', 400, 1_000);
  const refresher = new UrlRefresher(client, undefined, 0, clock);
  const [live, deleted] = [items[0]!, items.find((item) => item.messageId !== items[0]!.messageId)!];
  fake.deleteMessage(deleted.channelId, deleted.messageId);
  const renewals = Promise.all([refresher.renew(live), refresher.renew(deleted)]);
  await clock.advance(0);
  const [a, b] = await renewals;
  t.ok(a.url, 'a fresh link from the message');
  t.match(b, { url: undefined, gone: /deleted \(Unknown Message\)/ });
  t.ok(
    fake.requests.some((r) => r.route === 'GET /channels/:id/messages/:message_id' && r.status === 200),
    'the message was re-fetched',
  );
  t.same(
    await refresher.locate({ channelId: live.channelId, messageId: 'not-an-id', attachmentId: live.attachmentId }),
    {},
    'no request path from an id Discord did not send',
  );
});

t.test('aborted before start: nothing is sent and no link comes back', async (t) => {
  const { fake, client, clock, items } = await setup(t);
  const controller = new AbortController();
  controller.abort(new Error('stop'));
  const refresher = new UrlRefresher(client, controller.signal, 0, clock);
  const renewed = refresher.refresh(items[0]!);
  await clock.advance(0);
  t.equal(await renewed, undefined);
  await t.rejects(refresher.locate(items[0]!), 'locate rethrows the abort');
  t.equal(fake.requests.length, 0, 'no request');
});

t.test('aborted mid-flight: the refresh ends without a link, locate rejects', async (t) => {
  const { clock, items } = await setup(t);
  const server = await startHangingServer();
  const client = new DiscordClient({ token: 'hanging-token', api: `${server.url}/api/v10` });
  t.teardown(async () => {
    client.close();
    await server.close();
  });
  const controller = new AbortController();
  const refresher = new UrlRefresher(client, controller.signal, 0, clock);
  const renewed = refresher.refresh(items[0]!);
  const located = refresher.locate(items[1]!);
  await clock.advance(0);
  await requestsSeen(server, 2);
  controller.abort(new Error('stop'));
  t.equal(await renewed, undefined);
  await t.rejects(located, { code: 'DPS_ABORTED' });
});
