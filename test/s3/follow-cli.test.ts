// `dps follow --out s3://` end to end (issue 26): the built CLI following the fake Discord over its Gateway into
// a real S3 server (Ceph RGW). The catch-up and the messages posted live are stored as objects holding the fake's
// bytes (sha256), a file over one part as a completed multipart upload; with --write-metadata=channel the
// channel's messages.ndjson object gets one line per message (live ones included) once the follow stops; a kill -9
// then a restart loses nothing and lists no message twice (a file the killed run announced may be announced again,
// as with a folder); no multipart upload is left behind.

import t from 'tap';
import type { Test } from 'tap';
import { join } from 'node:path';
import { startFakeDiscord } from '../../fixtures/fake-discord.js';
import type { FakeDiscord } from '../../fixtures/fake-discord.js';
import { buildScenario } from '../../fixtures/scenarios.js';
import { allSaved, startFollow } from '../cli/follow-cli.js';
import type { Follow } from '../cli/follow-cli.js';
import { keyOf, objectsUnder, s3Args, uploadsIn } from './objects.js';
import { bucketName, s3Server } from '../helpers/s3-server.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const s3 = await s3Server();
t.teardown(() => s3.stop());
const client = s3.client();
t.teardown(() => client.destroy());

async function fakeFollowed(t: Test): Promise<{ fake: FakeDiscord; G: string; C: string }> {
  const scenario = buildScenario({ seed: 26, guilds: [{ name: 'Live S3', channels: [{ name: 'main', messages: 20, imageRatio: 0.6, gapRate: 0 }] }] });
  const fake = await startFakeDiscord({ scenario, gateway: { identifyIntervalMs: 0, heartbeatIntervalMs: 400 } });
  t.teardown(() => fake.close());
  const guild = fake.scenario.guilds[0]!;
  return { fake, G: guild.id, C: guild.channels[0]!.id };
}

// Every file of the channel is an object with the fake's bytes, where its saved event said; nothing else but logs.
async function checkObjects(t: Test, fake: FakeDiscord, bucket: string, C: string, saved: Array<Record<string, unknown>>): Promise<void> {
  const objects = await objectsUnder(client, bucket);
  const expected = [...fake.expected({ channelId: C })];
  const savedById = new Map(saved.map((e) => [String(e.attachment_id), e]));
  t.same(
    expected.filter((a) => !savedById.has(a.attachment_id)).map((a) => a.attachment_id),
    [],
    `every one of the ${expected.length} files was saved`,
  );
  const wrong = expected.filter((a) => {
    const event = savedById.get(a.attachment_id);
    return event === undefined || objects.get(keyOf(bucket, event.duplicate_of ?? event.path))?.sha256 !== a.sha256;
  });
  t.same(
    wrong.map((a) => a.attachment_id),
    [],
    'each object holds the fake’s bytes',
  );
  t.same(await uploadsIn(client, bucket), [], 'no multipart upload left');
}

// The channel's messages.ndjson object: its message ids, in order.
async function logIds(bucket: string): Promise<string[]> {
  const objects = await objectsUnder(client, bucket);
  const logs = [...objects.entries()].filter(([key]) => key.endsWith('/messages.ndjson'));
  if (logs.length !== 1) throw new Error(`${logs.length} logs`);
  const text = logs[0]![1].bytes.toString('utf8');
  if (!text.endsWith('\n')) throw new Error('a torn line');
  return text
    .split('\n')
    .slice(0, -1)
    .map((line) => String((JSON.parse(line) as { message_id: string }).message_id));
}

const savedEvents = (follow: Follow): Array<Record<string, unknown>> => follow.events.filter((e) => e.event === 'saved');

t.test('dps follow into S3: the catch-up and live posts stored as objects, the channel log complete at the stop', async (t) => {
  const { fake, G, C } = await fakeFollowed(t);
  const bucket = await s3.createBucket(bucketName('follow'));
  const dir = t.testdir();
  const state = join(dir, 'state');
  const args = s3Args(fake.api, G, C, `s3://${bucket}/live`, state, '--types', 'all', '--write-metadata=channel', '--s3-part-size', '5MiB');
  const follow = startFollow(t, fake, args, s3.env());
  await follow.until('the catch-up', () => follow.events.some((e) => e.event === 'channel_done'));
  const caughtUp = savedEvents(follow).length;
  t.ok(caughtUp > 5, `${caughtUp} files from the catch-up`);

  const small = fake.postMessage(C, { attachments: 2 });
  const large = fake.postMessage(C, { attachments: 1, size: 6 * 1024 * 1024 + 123 }); // over one part: multipart
  await follow.until('the live files', () => allSaved(follow, [...small.files, ...large.files]));
  const live = savedEvents(follow).filter((e) => e.message_id === small.id || e.message_id === large.id);
  t.equal(live.length, 3, 'each live file announced once');
  const objects = await objectsUnder(client, bucket, 'live/');
  for (const file of [...small.files, ...large.files]) {
    const event = live.find((e) => e.attachment_id === file.attachment_id)!;
    t.equal(objects.get(keyOf(bucket, event.path))?.sha256, file.sha256, `${file.attachment_id}: its object is there while following`);
  }

  follow.child.kill('SIGINT');
  const { code } = await follow.exited;
  t.equal(code, 130, `SIGINT: 130 (stderr: ${follow.stderr()})`);
  t.same(follow.problems(), [], 'every event matches its schema');
  t.notMatch(follow.stderr(), /Are you using|Warning|DPS_/, 'no warning, no error line');
  await checkObjects(t, fake, bucket, C, savedEvents(follow));
  const ids = await logIds(bucket);
  const withFiles = [...new Set(savedEvents(follow).map((e) => String(e.message_id)))];
  t.same([...ids].sort(), withFiles.sort(), 'the log: one line per message with files, live ones included');
  t.same(ids.slice(-2), [small.id, large.id], 'the live messages last, in the order they came');
});

t.test('dps follow into S3, kill -9 after a live post, then again: nothing lost, no message listed twice', async (t) => {
  const { fake, G, C } = await fakeFollowed(t);
  const bucket = await s3.createBucket(bucketName('followkill'));
  const dir = t.testdir();
  const state = join(dir, 'state');
  const args = s3Args(fake.api, G, C, `s3://${bucket}/k`, state, '--types', 'all', '--write-metadata=channel');
  const first = startFollow(t, fake, args, s3.env());
  await first.until('the catch-up', () => first.events.some((e) => e.event === 'channel_done'));
  const before = fake.postMessage(C, { attachments: 2 });
  await first.until('the live files', () => allSaved(first, before.files));
  first.child.kill('SIGKILL');
  t.equal((await first.exited).signal, 'SIGKILL', 'killed');

  const after = fake.postMessage(C, { attachments: 1 }); // while nobody follows: the restart's catch-up brings it
  const second = startFollow(t, fake, args, s3.env());
  await second.until('the catch-up after the kill', () => second.events.some((e) => e.event === 'channel_done'));
  const third = fake.postMessage(C, { attachments: 1 });
  await second.until('the files posted meanwhile and now', () => allSaved(second, [...after.files, ...third.files]));
  second.child.kill('SIGINT');
  t.equal((await second.exited).code, 130, `SIGINT: 130 (stderr: ${second.stderr()})`);

  const saved = [...savedEvents(first), ...savedEvents(second)];
  // Announced once per run; a file the killed run announced may be announced again (README, "Following a server":
  // a repeat only after a kill -9), and its message is still listed once.
  for (const [name, run] of [
    ['first', first],
    ['second', second],
  ] as const) {
    const ids = savedEvents(run).map((e) => String(e.attachment_id));
    t.same(
      ids.filter((id, i) => ids.indexOf(id) !== i),
      [],
      `the ${name} run announces each file once`,
    );
  }
  await checkObjects(t, fake, bucket, C, saved);
  const lines = await logIds(bucket);
  t.same(
    lines.filter((id, i) => lines.indexOf(id) !== i),
    [],
    'no message listed twice',
  );
  t.same([...lines].sort(), [...new Set(saved.map((e) => String(e.message_id)))].sort(), 'every message with files listed');
});
