// `dps follow` end to end through the Gateway's misbehaviours, one process: op 7 RECONNECT (resumed, the message
// posted meanwhile replayed), op 9 INVALID_SESSION not resumable (a new session: what was posted meanwhile comes
// with the catch-up), a zombie connection (ACKs stop, events held: it reconnects and resumes), a dropped
// connection whose RESUME is refused (a new session and a catch-up). Each time a message is posted while the
// connection is in trouble; at the end every file is on disk once, byte-exact, downloaded once.

import t from 'tap';
import { join } from 'node:path';
import { startFakeDiscord } from '../../fixtures/fake-discord.js';
import { singleChannel } from '../../fixtures/scenarios.js';
import { checkArchive } from '../helpers/verify.js';
import { allSaved, startFollow } from './follow-cli.js';

t.test('op 7, op 9 (not resumable), a zombie connection, a refused RESUME: nothing missed, nothing twice', async (t) => {
  // Heartbeats every 250 ms: a zombie is found in well under a second.
  const fake = await startFakeDiscord({
    scenario: singleChannel({ seed: 51, messages: 30, imageRatio: 0.4 }),
    gateway: { identifyIntervalMs: 0, heartbeatIntervalMs: 250 },
  });
  t.teardown(() => fake.close());
  const dir = t.testdir();
  const out = join(dir, 'out');
  const state = join(dir, 'state');
  const guildId = fake.scenario.guilds[0]!.id;
  const channelId = fake.scenario.guilds[0]!.channels[0]!.id;
  const follow = startFollow(t, fake, ['--server-id', guildId, '--channel-id', channelId, '--out', out, '--state', state, '--types', 'all']);
  await follow.until('the catch-up', () => follow.events.some((e) => e.event === 'channel_done'));
  await fake.gateway.untilIdentified(1);

  // op 7: the client reconnects and resumes; the message posted meanwhile is replayed.
  fake.gateway.reconnect();
  const afterReconnect = fake.postMessage(channelId, { attachments: 1 });
  await fake.gateway.untilResumed(1);
  await follow.until('the file posted during op 7', () => allSaved(follow, afterReconnect.files));
  t.equal(fake.gateway.stats.identifies, 1, 'op 7: resumed, no new session');

  // op 9 not resumable: the session ends; what is posted now is never dispatched to the new one.
  fake.gateway.invalidate(false);
  const afterInvalid = fake.postMessage(channelId, { attachments: 2 });
  await fake.gateway.untilIdentified(2);
  await follow.until('the files posted while the session was invalid', () => allSaved(follow, afterInvalid.files));
  t.match(follow.stderr(), /live events may have been missed \(new session\): catching up/, 'says it catches up');

  // A zombie: ACKs stop and events are held; the client notices, reconnects and resumes; the held event comes.
  const resumesBefore = fake.gateway.stats.resumes;
  fake.gateway.stopAcks({ holdEvents: true });
  const duringZombie = fake.postMessage(channelId, { attachments: 1 });
  await fake.gateway.untilResumed(resumesBefore + 1);
  await follow.until('the file posted while the connection was a zombie', () => allSaved(follow, duringZombie.files));

  // A drop whose RESUME is refused: a new session, and the catch-up brings what was posted meanwhile.
  const identifiesBefore = fake.gateway.stats.identifies;
  fake.gateway.refuseResume(1);
  fake.gateway.drop();
  const afterDrop = fake.postMessage(channelId, { attachments: 1 });
  await fake.gateway.untilIdentified(identifiesBefore + 1);
  await follow.until('the file posted while the connection was down', () => allSaved(follow, afterDrop.files));

  const live = fake.postMessage(channelId, { attachments: 1 });
  await follow.until('a file posted once all is well again', () => allSaved(follow, live.files));
  follow.child.kill('SIGINT');
  t.equal((await follow.exited).code, 130, 'SIGINT: exit 130');

  const expected = [...fake.expected({ channelId })].length;
  const check = await checkArchive(fake, out, state, channelId);
  t.same(check.missing, [], 'every file posted is archived');
  t.same(check.extraFiles, [], 'none stored twice');
  t.equal(check.exact, expected, 'byte-exact');
  const downloads = fake.requests.filter((r) => r.kind === 'cdn' && r.status === 200).length;
  t.equal(downloads, expected, 'none downloaded twice');
  const saved = follow.events.filter((e) => e.event === 'saved').map((e) => String(e.attachment_id));
  t.equal(saved.length, expected, 'each announced once');
  t.same(follow.problems(), [], 'every event matches the NDJSON schema');
});

t.test('no session starts left today: it says so, waits for reset_after, then follows', async (t) => {
  // The fake's Gateway time stands still until the test moves it: the limit resets only then, whatever the load.
  const base = Date.now();
  let offsetMs = 0;
  const fake = await startFakeDiscord({
    scenario: singleChannel({ seed: 52, messages: 10, imageRatio: 0.5 }),
    gateway: { identifyIntervalMs: 0, clock: () => base + offsetMs, sessionStartLimit: { total: 1000, remaining: 0, resetAfterMs: 1000 } },
  });
  t.teardown(() => fake.close());
  const dir = t.testdir();
  const guildId = fake.scenario.guilds[0]!.id;
  const channelId = fake.scenario.guilds[0]!.channels[0]!.id;
  const follow = startFollow(t, fake, ['--server-id', guildId, '--channel-id', channelId, '--out', join(dir, 'out'), '--state', join(dir, 'state')]);
  await follow.until('the line about the wait', () => /gateway: no session starts left today \(0 of 1000\): waiting until \S+Z/.test(follow.stderr()));
  t.equal(fake.gateway.stats.identifies, 0, 'no IDENTIFY while none is left (Discord would reset the token)');
  t.notOk(
    follow.events.some((e) => e.event === 'channel_done'),
    'no catch-up before a session (it follows the first READY)',
  );
  offsetMs = 1000; // the limit resets; dps, told to wait reset_after, looks again after it and connects
  await follow.until('the catch-up', () => follow.events.some((e) => e.event === 'channel_done'));
  t.equal(fake.gateway.stats.identifies, 1, 'one session once the limit was reset');
  const posted = fake.postMessage(channelId, { attachments: 1 });
  await follow.until('the live file', () => allSaved(follow, posted.files));
  follow.child.kill('SIGINT');
  t.equal((await follow.exited).code, 130);
});
