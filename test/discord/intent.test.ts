// lib/discord/intent.ts: whether the application has the MESSAGE_CONTENT intent (asked of the fake over HTTP),
// undefined when that cannot be told, only an abort thrown; and whether a page looks stripped by its absence.
import t from 'tap';
import type { Test } from 'tap';
import { startFakeDiscord } from '../../fixtures/fake-discord.js';
import { singleChannel } from '../../fixtures/scenarios.js';
import { DiscordClient } from '../../lib/discord/client.js';
import { detectMessageContentIntent, looksLikeMissingIntent } from '../../lib/discord/intent.js';
import { AbortedError } from '../../lib/errors.js';

async function connect(t: Test, messageContentIntent: boolean) {
  const fake = await startFakeDiscord({ scenario: singleChannel({ seed: 5, messages: 3, messageContentIntent }) });
  t.teardown(() => fake.close());
  const client = new DiscordClient({ token: fake.token, api: fake.api, backoffMs: 1, retries: 1 });
  t.teardown(() => client.close());
  return { fake, client };
}

t.test('the intent read from GET /applications/@me', async (t) => {
  t.equal(await detectMessageContentIntent((await connect(t, true)).client), true);
  t.equal(await detectMessageContentIntent((await connect(t, false)).client), false);
});

t.test('undefined when it cannot be told (a refused or failing request)', async (t) => {
  const { fake, client } = await connect(t, true);
  fake.forceStatus('GET /applications/@me', 403, 1);
  t.equal(await detectMessageContentIntent(client), undefined, '403');
  fake.forceStatus('GET /applications/@me', 500, 2);
  t.equal(await detectMessageContentIntent(client), undefined, '5xx after retries');
});

t.test('an abort is thrown: before start, and as DPS_ABORTED from the client', async (t) => {
  const { client } = await connect(t, true);
  const controller = new AbortController();
  controller.abort();
  await t.rejects(detectMessageContentIntent(client, { signal: controller.signal }));
  // DPS_ABORTED without this signal aborted (the run's stop reached the client first): thrown, not taken for "unknown".
  const stopping = { get: async () => Promise.reject(new AbortedError('aborted')) } as unknown as DiscordClient;
  await t.rejects(detectMessageContentIntent(stopping), { code: 'DPS_ABORTED' });
});

t.test('a page stripped by a missing intent, and pages that are not', async (t) => {
  const blank = { type: 0, content: '', attachments: [], embeds: [], components: [] };
  t.equal(looksLikeMissingIntent([blank, { ...blank }]), true, 'user messages, all blank');
  t.equal(looksLikeMissingIntent([]), false, 'no messages: nothing to judge');
  t.equal(looksLikeMissingIntent([blank, { ...blank, content: 'hello' }]), false, 'one has content');
  t.equal(looksLikeMissingIntent([blank, { ...blank, attachments: [{}] }]), false, 'one has a file');
  t.equal(looksLikeMissingIntent([{ ...blank, type: 7 }]), false, 'system messages are blank anyway');
  t.equal(looksLikeMissingIntent([{ ...blank, author: { id: 'bot' } }], 'bot'), false, "the bot's own messages keep their content");
  t.equal(looksLikeMissingIntent([{ ...blank, mentions: [{ id: 'bot' }] }], 'bot'), false, 'so do messages mentioning it');
  t.equal(looksLikeMissingIntent([{ ...blank, sticker_items: [{}] }]), false, 'sticker-only messages are blank with the intent too');
  t.equal(looksLikeMissingIntent([{ ...blank, message_snapshots: [{ message: { content: 'forwarded' } }] }]), false, 'a forward with content');
  t.equal(looksLikeMissingIntent([{ ...blank, message_snapshots: [{ message: { content: '' } }] }]), true, 'a blank forward');
  t.equal(looksLikeMissingIntent([{ ...blank, poll: {} }]), false, 'a poll');
});
