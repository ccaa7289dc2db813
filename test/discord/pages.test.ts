// Ordering and cursor logic against the fake's newest-first pages: every message exactly once, walked from both
// ends, across deleted-message gaps, stopping at the snapshot taken before the first page.

import t from 'tap';
import type { Test } from 'tap';
import { startFakeDiscord } from '../../fixtures/fake-discord.js';
import { singleChannel } from '../../fixtures/scenarios.js';
import { DiscordClient } from '../../lib/discord/client.js';
import { channelHistory } from '../../lib/discord/pages.js';
import type { HistoryPage } from '../../lib/discord/pages.js';
import { compareSnowflakes } from '../../lib/util/snowflake.js';

// Walks a channel: the ids of its pages in the order they came, and the cursors of its empty closing pages.
async function walk(pages: AsyncIterable<HistoryPage>): Promise<{ ids: string[]; cursors: string[]; orderly: boolean }> {
  const ids: string[] = [];
  const cursors: string[] = [];
  let orderly = true;
  for await (const page of pages) {
    if (page.cursor !== undefined) cursors.push(page.cursor);
    const sign = page.down === undefined ? -1 : 1;
    page.messages.forEach((m, i) => {
      if (i > 0 && Math.sign(compareSnowflakes(page.messages[i - 1]!.id, m.id)) !== sign) orderly = false;
      if (page.down !== undefined && compareSnowflakes(m.id, page.down) > 0) orderly = false;
    });
    ids.push(...page.messages.map((m) => m.id));
  }
  return { ids, cursors, orderly };
}

const ascending = (ids: string[]): string[] => [...ids].sort(compareSnowflakes);

// The reference walk: one request at a time, upwards only, straight through the client (a page shorter than
// 100 is the last), as a page of ids in ascending order.
async function walkUp(client: DiscordClient, channelId: string): Promise<string[]> {
  const ids: string[] = [];
  for (let after = '0'; ; ) {
    const page = await client.get<Array<{ id: string }>>(`/channels/${channelId}/messages`, { query: { after, limit: '100' } });
    const sorted = ascending(page.map((m) => m.id));
    ids.push(...sorted);
    if (page.length < 100) return ids;
    after = sorted.at(-1)!;
  }
}

// A fake with one channel and a client for it, both closed when the test ends.
async function oneChannel(t: Test, spec: Parameters<typeof singleChannel>[0]) {
  const fake = await startFakeDiscord({ scenario: singleChannel(spec) });
  t.teardown(() => fake.close());
  const client = new DiscordClient({ token: fake.token, api: fake.api });
  t.teardown(() => client.close());
  return { fake, channelId: fake.scenario.guilds[0]!.channels[0]!.id, client };
}

t.test('every message once, from both ends, across gaps; messages posted mid-walk wait for the next run', async (t) => {
  const { fake, channelId, client } = await oneChannel(t, { messages: 1234, gapRate: 0.1, imageRatio: 0 });

  // The reference: one request at a time, upwards only.
  const reference = { ids: await walkUp(client, channelId) };
  t.equal(new Set(reference.ids).size, reference.ids.length, 'the reference walk has no duplicates');

  fake.resetLog();
  let appended = false;
  const ids: string[] = [];
  const cursors: string[] = [];
  let down = 0;
  let orderly = true;
  for await (const page of channelHistory(client, channelId, { after: '0' })) {
    const one = await walk(
      (async function* () {
        yield page;
      })(),
    );
    orderly &&= one.orderly;
    ids.push(...one.ids);
    cursors.push(...one.cursors);
    if (page.down !== undefined) down++;
    if (!appended) {
      fake.appendMessages(channelId, 30);
      appended = true;
    }
  }
  t.ok(orderly, 'pages walked up ascend, pages walked down descend');
  t.ok(down > 0, `${down} pages walked down`);
  t.equal(new Set(ids).size, ids.length, 'no duplicates');
  t.same(ascending(ids), reference.ids, 'the same messages as the walk upwards');
  t.ok(ids.length > 1000 && ids.length < 1234, `gaps skipped: ${ids.length} of 1234 indices exist`);
  t.same(cursors, [reference.ids.at(-1)], 'one closing cursor: the snapshot');
  const history = fake.requests.filter((r) => r.route === 'GET /channels/:id/messages').length;
  t.ok(history <= Math.ceil(reference.ids.length / 100) + 3, `${history} requests for ${reference.ids.length} messages`);

  // Walk again from the snapshot: exactly the 30 appended messages, nothing before them.
  const more = await walk(channelHistory(client, channelId, { after: cursors[0]! }));
  const everything = await walk(channelHistory(client, channelId, { after: '0' }));
  t.ok(more.ids.length > 20 && more.ids.length <= 30, `${more.ids.length} of the 30 appended indices exist (the rest are gaps)`);
  t.same(ascending([...ids, ...more.ids]), ascending(everything.ids), 'first walk + second walk = the whole channel, nothing twice, nothing missed');

  // And from the newest id: one request (the snapshot), no pages. (A walk that met may leave its other walk's
  // last request in flight: let it land first.)
  await new Promise((resolve) => setTimeout(resolve, 100));
  fake.resetLog();
  t.equal(more.cursors.length, 1);
  for await (const page of channelHistory(client, channelId, { after: more.cursors[0]! }))
    t.fail(`unexpected page of ${page.messages.length}: ${JSON.stringify(page).slice(0, 200)}`);
  t.equal(fake.requests.filter((r) => r.route === 'GET /channels/:id/messages').length, 1, 'a caught-up channel costs one request');
});

t.test('a channel of one page costs two requests, as walking up alone does', async (t) => {
  const { fake, channelId, client } = await oneChannel(t, { messages: 60, gapRate: 0, imageRatio: 0 });
  const { ids, cursors } = await walk(channelHistory(client, channelId, { after: '0' }));
  t.equal(ids.length, 60);
  t.same(cursors, [ascending(ids).at(-1)]);
  t.equal(fake.requests.filter((r) => r.route === 'GET /channels/:id/messages').length, 2);
});

t.test('a span finished by an interrupted run: the gap below it first, then above it, and nothing in it', async (t) => {
  const { channelId, client } = await oneChannel(t, { messages: 900, gapRate: 0.05, imageRatio: 0 });
  const all = await walkUp(client, channelId);
  for (const [after, from, to] of [
    [all[99]!, all[400]!, all[650]!], // gap of three pages, more above the span
    [all[99]!, all[101]!, all.at(-1)!], // a one-message gap, nothing above
    ['0', all[0]!, all[500]!], // nothing below the span
  ] as const) {
    const { ids, cursors, orderly } = await walk(channelHistory(client, channelId, { after, doneAbove: { from, to } }));
    const expected = all.filter((id) => compareSnowflakes(id, after) > 0 && (compareSnowflakes(id, from) < 0 || compareSnowflakes(id, to) > 0));
    t.ok(orderly);
    t.equal(new Set(ids).size, ids.length, 'no duplicates');
    t.same(ascending(ids), expected, `after ${all.indexOf(after)}, span ${all.indexOf(from)}..${all.indexOf(to)}: exactly the messages outside it`);
    const closing = [compareSnowflakes(from, after) > 0 ? to : undefined, to === all.at(-1) ? undefined : all.at(-1)];
    t.same(
      cursors,
      closing.filter((c) => c !== undefined),
      'a closing cursor per span walked',
    );
  }
});

t.test('a before bound stops the walk early', async (t) => {
  const { channelId, client } = await oneChannel(t, { messages: 300, imageRatio: 0 });
  const all: string[] = [];
  for await (const page of channelHistory(client, channelId, { after: '0' })) all.push(...page.messages.map((m) => m.id));
  const bound = all[150]!;
  const some: string[] = [];
  for await (const page of channelHistory(client, channelId, { after: all[9]!, before: bound })) some.push(...page.messages.map((m) => m.id));
  t.same(some, all.slice(10, 150), 'exactly the messages strictly between the bounds');
});

t.test('under a pace (here --polite) only the walk up runs: a second walk would only crowd the limit', async (t) => {
  const fake = await startFakeDiscord({ scenario: singleChannel({ messages: 150, gapRate: 0, imageRatio: 0 }) });
  t.teardown(() => fake.close());
  const channelId = fake.scenario.guilds[0]!.channels[0]!.id;
  const client = new DiscordClient({ token: fake.token, api: fake.api, polite: true });
  t.teardown(() => client.close());
  const { ids, cursors, orderly } = await walk(channelHistory(client, channelId, { after: '0' }));
  t.ok(orderly);
  t.equal(ids.length, 150);
  t.same(ids, ascending(ids), 'all walked up');
  t.equal(cursors.length, 1);
  const history = fake.requests.filter((r) => r.route === 'GET /channels/:id/messages');
  t.same(
    history.filter((r) => r.query.before !== undefined),
    [],
    'no request walked down',
  );
});
