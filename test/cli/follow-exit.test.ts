// How `dps follow` ends when Discord ends it, end to end: the bot removed from the server (GUILD_DELETE) exits 4
// with one clear line; the token refused on the Gateway (close 4004) and the Message Content intent not allowed
// (close 4014) exit 3, the latter saying how to enable it in the Developer Portal. No stack trace, no token.

import t from 'tap';
import { join } from 'node:path';
import { startFakeDiscord } from '../../fixtures/fake-discord.js';
import type { FakeDiscord } from '../../fixtures/fake-discord.js';
import { singleChannel } from '../../fixtures/scenarios.js';
import { startFollow } from './follow-cli.js';
import { stackLines, stderrLines } from './helpers.js';

function argsFor(fake: FakeDiscord, dir: string): string[] {
  const guildId = fake.scenario.guilds[0]!.id;
  const channelId = fake.scenario.guilds[0]!.channels[0]!.id;
  return ['--server-id', guildId, '--channel-id', channelId, '--out', join(dir, 'out'), '--state', join(dir, 'state'), '--types', 'all'];
}

// The stderr lines that are not the follow's own running commentary (saved files, Gateway connection notes).
function problemLines(stderr: string): string[] {
  return stderrLines(stderr).filter((line) => !/^(saved |gateway: |note: |#)/.test(line));
}

t.test('the bot removed from the server (GUILD_DELETE): exit 4, one clear line', async (t) => {
  const fake = await startFakeDiscord({ scenario: singleChannel({ seed: 41, messages: 10, imageRatio: 0.5 }), gateway: { identifyIntervalMs: 0 } });
  t.teardown(() => fake.close());
  const dir = t.testdir();
  const follow = startFollow(t, fake, argsFor(fake, dir));
  await follow.until('the catch-up', () => follow.events.some((e) => e.event === 'channel_done'));
  fake.kick(fake.scenario.guilds[0]!.id);
  const { code } = await follow.exited;
  t.equal(code, 4, 'exit 4');
  const lines = problemLines(follow.stderr());
  t.equal(lines.length, 1, `one line: ${JSON.stringify(lines)}`);
  t.match(lines[0], /removed from server \d+/, 'it says the bot was removed from the server');
  t.same(stackLines(follow.stderr()), [], 'no stack trace');
  t.notOk(follow.stderr().includes(fake.token), 'no token');
  t.same(follow.problems(), [], 'every event matches the NDJSON schema');
});

t.test('the token refused on the Gateway (close 4004): exit 3', async (t) => {
  const fake = await startFakeDiscord({ scenario: singleChannel({ seed: 42, messages: 10, imageRatio: 0.5 }), gateway: { identifyIntervalMs: 0 } });
  t.teardown(() => fake.close());
  const dir = t.testdir();
  const follow = startFollow(t, fake, argsFor(fake, dir));
  await follow.until('the catch-up', () => follow.events.some((e) => e.event === 'channel_done'));
  fake.gateway.close(4004, 'Authentication failed.');
  const { code } = await follow.exited;
  t.equal(code, 3, 'exit 3');
  const lines = problemLines(follow.stderr());
  t.equal(lines.length, 1, `one line: ${JSON.stringify(lines)}`);
  t.match(lines[0], /4004/, 'names the close code');
  t.match(lines[0], /token/, 'and the token');
  t.same(stackLines(follow.stderr()), [], 'no stack trace');
});

t.test('the token reset while following (GET /gateway/bot 401 before the next identify): exit 3, not reconnects forever', async (t) => {
  const fake = await startFakeDiscord({ scenario: singleChannel({ seed: 44, messages: 10, imageRatio: 0.5 }), gateway: { identifyIntervalMs: 0 } });
  t.teardown(() => fake.close());
  const dir = t.testdir();
  const follow = startFollow(t, fake, argsFor(fake, dir));
  await follow.until('the catch-up', () => follow.events.some((e) => e.event === 'channel_done'));
  // The token is reset (as Discord does when it leaks) and the session ended: the next session cannot start.
  fake.setOption({ token: 'reset.token.value' });
  fake.gateway.invalidate(false);
  const { code } = await follow.exited;
  t.equal(code, 3, 'exit 3');
  const lines = problemLines(follow.stderr());
  t.equal(lines.length, 1, `one line: ${JSON.stringify(lines)}`);
  t.same(stackLines(follow.stderr()), [], 'no stack trace');
  t.ok(
    fake.requests.some((r) => r.kind === 'api' && r.route === 'GET /gateway/bot' && r.status === 401),
    'GET /gateway/bot refused the token',
  );
});

t.test('the Message Content intent not enabled (close 4014): exit 3 with how to enable it', async (t) => {
  const scenario = singleChannel({ seed: 43, messages: 10, imageRatio: 0.5, messageContentIntent: false });
  const fake = await startFakeDiscord({ scenario, gateway: { identifyIntervalMs: 0 } });
  t.teardown(() => fake.close());
  const dir = t.testdir();
  const follow = startFollow(t, fake, argsFor(fake, dir));
  const { code } = await follow.exited;
  t.equal(code, 3, 'exit 3');
  const lines = problemLines(follow.stderr()).filter((line) => !line.startsWith('warning:'));
  t.equal(lines.length, 1, `one line: ${JSON.stringify(lines)}`);
  t.match(lines[0], /4014/, 'names the close code');
  t.match(lines[0], /Developer Portal/, 'says where');
  t.match(lines[0], /Message Content Intent/, 'and what to enable');
  t.same(stackLines(follow.stderr()), [], 'no stack trace');
});
