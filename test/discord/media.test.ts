// lib/discord/media.ts: the files of a message as the fake renders them (attachments, forwards, Components V2
// galleries, Discord-hosted and external embeds, stickers), once each, and attachments Discord sent broken
// marked `invalid` instead of vanishing. mediaOf takes no signal: it does no I/O.
import t from 'tap';
import type { APIMessage } from 'discord-api-types/v10';
import { startFakeDiscord } from '../../fixtures/fake-discord.js';
import { singleChannel } from '../../fixtures/scenarios.js';
import { DiscordClient } from '../../lib/discord/client.js';
import { mediaOf } from '../../lib/discord/media.js';

t.test('every file the fake expects, from attachments, forwards, galleries, embeds and stickers', async (t) => {
  const fake = await startFakeDiscord({ scenario: singleChannel({ seed: 51, messages: 40, imageRatio: 0.3, special: ['rich', 'mixed'] }) });
  const client = new DiscordClient({ token: fake.token, api: fake.api });
  t.teardown(async () => {
    client.close();
    await fake.close();
  });
  const channelId = fake.scenario.guilds[0]!.channels[0]!.id;
  const messages = await client.get<APIMessage[]>(`/channels/${channelId}/messages`, { query: { limit: '100' } });
  const found = messages.flatMap((m) => mediaOf(m, { embeds: true, stickers: true, cdn: fake.url }));
  const expected = [...fake.expected({ channelId, includeEmbeds: true, includeStickers: true })];
  const ids = (list: Array<{ id?: string; attachment_id?: string }>): string[] => list.map((f) => f.id ?? f.attachment_id ?? '').sort();
  t.equal(found.length, expected.length, 'as many files as the fake holds');
  const hosted = expected.filter((e) => !e.attachment_id.startsWith('external:'));
  t.same(
    ids(found.filter((f) => !f.id.startsWith('embed-'))),
    ids(hosted.map((e) => ({ id: e.source === 'sticker' ? `sticker-${e.attachment_id}` : e.attachment_id }))),
    'the same files',
  );
  t.same(new Set(found.map((f) => f.source)), new Set(['attachment', 'forward', 'component', 'embed', 'sticker']));
  t.ok(
    found.some((f) => f.source === 'embed' && f.id.startsWith('embed-')),
    'an external embed, by its proxy copy',
  );
  t.ok(found.every((f) => f.invalid === undefined && /^https?:/.test(f.url)));
  t.equal(messages.flatMap((m) => mediaOf(m)).filter((f) => f.source === 'embed' || f.source === 'sticker').length, 0, 'embeds and stickers only on request');
});

t.test('the same file twice is listed once; broken attachments are marked invalid', async (t) => {
  const url = 'https://cdn.discordapp.com/attachments/1/1100000000000000001/a.png?ex=1&is=1&hm=1';
  const message = {
    id: '1100000000000000100',
    attachments: [
      { id: '1100000000000000001', filename: 'a.png', size: 10, content_type: 'image/png', url },
      { id: '1100000000000000002', filename: 'b.png', size: 10, url: 'javascript:alert(1)' },
      { id: 'not-an-id', filename: 'c.png', size: 10, url },
      null,
    ],
    embeds: [{ image: { url, proxy_url: 'https://media.discordapp.net/x' } }],
  } as unknown as APIMessage;
  const found = mediaOf(message, { embeds: true });
  t.equal(found.filter((f) => f.invalid === undefined).length, 1, 'the embed of the same attachment is not listed again');
  t.match(
    found.filter((f) => f.invalid !== undefined),
    [
      { id: '1100000000000000002', invalid: /not an http\(s\) URL/ },
      { id: /^invalid-/, invalid: /no valid id/ },
      { id: /^invalid-/, invalid: /not an attachment object/ },
    ],
  );
});
