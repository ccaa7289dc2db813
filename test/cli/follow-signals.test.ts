// `dps follow` as a service, end to end: SIGTERM exits 143 after the file being downloaded is finished and
// recorded; a user token (--token-type user) never opens the Gateway, catches up through REST and stops on
// SIGINT with 130; --status-interval prints a totals line on stderr.

import t from 'tap';
import { join } from 'node:path';
import { startFakeDiscord } from '../../fixtures/fake-discord.js';
import { singleChannel } from '../../fixtures/scenarios.js';
import { checkArchive } from '../helpers/verify.js';
import { allSaved, channelStatus, startFollow, statusOf } from './follow-cli.js';

t.test('SIGTERM while a live file downloads: it is finished and recorded, exit 143', async (t) => {
  const scenario = (): ReturnType<typeof singleChannel> => singleChannel({ seed: 61, messages: 20, imageRatio: 0.5 });
  // How many files the history holds (a fake only to count them): the CDN holds every file after those.
  const counting = await startFakeDiscord({ scenario: scenario() });
  const guildId = counting.scenario.guilds[0]!.id;
  const channelId = counting.scenario.guilds[0]!.channels[0]!.id;
  const history = [...counting.expected({ channelId })].length;
  await counting.close();
  const held = await startFakeDiscord({ scenario: scenario(), gateway: { identifyIntervalMs: 0 }, cdnHoldAfter: history });
  t.teardown(() => held.close());
  const dir = t.testdir();
  const out = join(dir, 'out');
  const state = join(dir, 'state');
  const follow = startFollow(t, held, ['--server-id', guildId, '--channel-id', channelId, '--out', out, '--state', state, '--types', 'all']);
  await follow.until('the catch-up', () => follow.events.some((e) => e.event === 'channel_done'));
  const posted = held.postMessage(channelId, { attachments: 1 });
  while (held.stats.inFlight < 1) await new Promise((resolve) => setTimeout(resolve, 20)); // its download is held by the fake
  follow.child.kill('SIGTERM');
  held.releaseCdn();
  const { code } = await follow.exited;
  t.equal(code, 143, 'SIGTERM: exit 143');
  t.ok(allSaved(follow, posted.files), 'the file in flight was finished and announced');
  const check = await checkArchive(held, out, state, channelId);
  t.same(check.missing, [], 'every file, the live one included, is on disk byte-exact');
  const status = await statusOf(state, dir);
  t.equal(channelStatus(status, guildId, channelId)?.last_message_id, posted.id, 'the cursor is saved at the live message');
});

t.test('a user token: no Gateway, the catch-up through REST, SIGINT exits 130', async (t) => {
  const scenario = singleChannel({ seed: 62, messages: 30, imageRatio: 0.5 });
  const fake = await startFakeDiscord({ scenario, userToken: true });
  t.teardown(() => fake.close());
  const dir = t.testdir();
  const out = join(dir, 'out');
  const state = join(dir, 'state');
  const guildId = scenario.guilds[0]!.id;
  const channelId = scenario.guilds[0]!.channels[0]!.id;
  const follow = startFollow(t, fake, [
    '--server-id',
    guildId,
    '--channel-id',
    channelId,
    '--out',
    out,
    '--state',
    state,
    '--types',
    'all',
    '--token-type',
    'user',
    '--poll-interval',
    '10s',
  ]);
  await follow.until('the catch-up', () => follow.events.some((e) => e.event === 'channel_done'));
  follow.child.kill('SIGINT');
  const { code } = await follow.exited;
  t.equal(code, 130, 'SIGINT: exit 130');
  t.equal(fake.gateway.stats.connections, 0, 'no Gateway connection');
  t.notOk(
    fake.requests.some((r) => r.route === 'GET /gateway/bot'),
    'not even GET /gateway/bot',
  );
  const check = await checkArchive(fake, out, state, channelId);
  t.same(check.missing, [], 'the history is archived');
  t.equal(check.exact, check.expected, 'byte-exact');
  t.notOk(follow.stderr().includes(fake.token), 'no token in the output');
});

t.test('--status-interval: a line with the totals on stderr', async (t) => {
  const scenario = singleChannel({ seed: 63, messages: 20, imageRatio: 0.5 });
  const fake = await startFakeDiscord({ scenario, gateway: { identifyIntervalMs: 0 } });
  t.teardown(() => fake.close());
  const dir = t.testdir();
  const guildId = scenario.guilds[0]!.id;
  const channelId = scenario.guilds[0]!.channels[0]!.id;
  const files = [...fake.expected({ channelId })].length;
  const args = ['--server-id', guildId, '--channel-id', channelId, '--out', join(dir, 'out'), '--state', join(dir, 'state'), '--types', 'all'];
  const follow = startFollow(t, fake, [...args, '--status-interval', '200ms']);
  await follow.until('the catch-up', () => follow.events.some((e) => e.event === 'channel_done'));
  const line = new RegExp(`^following: ${files} file\\(s\\) saved \\(\\d+\\.\\d MB\\), 0 failed, \\d+ message\\(s\\) seen$`, 'm');
  await follow.until('a totals line', () => line.test(follow.stderr()));
  t.pass('a totals line with the files saved so far');
  follow.child.kill('SIGINT');
  t.equal((await follow.exited).code, 130);
});
