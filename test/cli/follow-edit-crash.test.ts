// `dps follow`, kill -9 while a channel is still being caught up, after live events that include an edit of an
// old message (MESSAGE_UPDATE adding a file to a message far below the newest): the restart must still walk every
// message the interrupted catch-up had not reached. The edit is not a new message: it must not make the span of
// live messages (done_above) cover the history between it and the newest live message.

import t from 'tap';
import { join } from 'node:path';
import { startFakeDiscord } from '../../fixtures/fake-discord.js';
import { singleChannel } from '../../fixtures/scenarios.js';
import { checkArchive } from '../helpers/verify.js';
import { allSaved, startFollow } from './follow-cli.js';

t.test('an edit of an old message during the catch-up, then kill -9: the restart archives everything', async (t) => {
  const fake = await startFakeDiscord({ scenario: singleChannel({ seed: 71, messages: 200, imageRatio: 0.5 }), gateway: { identifyIntervalMs: 0 } });
  t.teardown(() => fake.close());
  const dir = t.testdir();
  const out = join(dir, 'out');
  const state = join(dir, 'state');
  const guildId = fake.scenario.guilds[0]!.id;
  const channelId = fake.scenario.guilds[0]!.channels[0]!.id;
  const args = ['--server-id', guildId, '--channel-id', channelId, '--out', out, '--state', state, '--types', 'all'];
  // The catch-up's first history page waits a minute (a rate limit): the live events come meanwhile.
  fake.forceStatus('GET /channels/:id/messages', 429, 1, { retryAfter: 60 });
  const first = startFollow(t, fake, args);
  await fake.gateway.untilIdentified(1);
  await first.until('the catch-up waiting', () => fake.requests.some((r) => r.route === 'GET /channels/:id/messages' && r.status === 429));

  // An old message (the middle of the history) gains a file.
  const old = [...fake.expected({ channelId })];
  let edited: ReturnType<typeof fake.updateMessage> | undefined;
  for (const file of old.slice(Math.floor(old.length / 2))) {
    try {
      edited = fake.updateMessage(channelId, file.message_id, { attachments: 1 });
      break;
    } catch {
      // a message with forwards, embeds or stickers cannot be edited by the fake: the next one
    }
  }
  t.ok(edited, 'an old message was edited');
  await first.until('the edited message’s files', () => allSaved(first, edited!.files));
  const posted = fake.postMessage(channelId, { attachments: 1 });
  await first.until('the new message’s file', () => allSaved(first, posted.files));
  t.notOk(
    first.events.some((e) => e.event === 'channel_done'),
    'the catch-up has not finished',
  );
  first.child.kill('SIGKILL');
  await first.exited;

  const second = startFollow(t, fake, args);
  await second.until('the catch-up', () => second.events.some((e) => e.event === 'channel_done'));
  second.child.kill('SIGINT');
  t.equal((await second.exited).code, 130);
  const check = await checkArchive(fake, out, state, channelId);
  t.same(check.missing, [], 'every file of the channel is archived');
  t.equal(check.exact, check.expected, 'byte-exact');
});
