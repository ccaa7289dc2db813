// `dps follow --write-metadata=channel` into a folder, end to end: the channel's catch-up and its live messages
// go through two metadata stages at once, both writing the channel's messages.ndjson. Live messages are posted
// while the catch-up is still writing lines; at the stop, the log holds one whole line per message with saved
// files (live ones included), none lost to the other writer's append, none twice.

import t from 'tap';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startFakeDiscord } from '../../fixtures/fake-discord.js';
import { buildScenario } from '../../fixtures/scenarios.js';
import { allSaved, startFollow } from './follow-cli.js';

async function findLog(dir: string): Promise<string> {
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name === 'messages.ndjson') return join(entry.parentPath, entry.name);
  }
  throw new Error(`no messages.ndjson under ${dir}`);
}

t.test('follow: live lines written while the catch-up writes its own, none lost, none twice', async (t) => {
  const scenario = buildScenario({ seed: 23, guilds: [{ name: 'Live log', channels: [{ name: 'main', messages: 300, imageRatio: 0.8, gapRate: 0 }] }] });
  const fake = await startFakeDiscord({ scenario, gateway: { identifyIntervalMs: 0, heartbeatIntervalMs: 400 } });
  t.teardown(() => fake.close());
  const guild = fake.scenario.guilds[0]!;
  const C = guild.channels[0]!.id;
  const out = join(t.testdirName, 'out');
  const args = [
    '--server-id',
    guild.id,
    '--channel-id',
    C,
    '--out',
    out,
    '--state',
    join(t.testdirName, 'state'),
    '--types',
    'all',
    '--write-metadata=channel',
  ];
  t.testdir({});
  const follow = startFollow(t, fake, args);
  await follow.until('the first saved file', () => follow.events.some((e) => e.event === 'saved'));
  const posted = Array.from({ length: 6 }, () => fake.postMessage(C, { attachments: 1 }));
  await follow.until(
    'the live files and the catch-up',
    () =>
      allSaved(
        follow,
        posted.flatMap((m) => m.files),
      ) && follow.events.some((e) => e.event === 'channel_done'),
  );
  follow.child.kill('SIGINT');
  const { code } = await follow.exited;
  t.equal(code, 130, `SIGINT: 130 (stderr: ${follow.stderr()})`);
  const text = await readFile(await findLog(out), 'utf8');
  t.ok(text.endsWith('\n'), 'no torn line');
  const ids = text
    .split('\n')
    .slice(0, -1)
    .map((line) => String((JSON.parse(line) as { message_id: string }).message_id));
  const withFiles = [...new Set(follow.events.filter((e) => e.event === 'saved').map((e) => String(e.message_id)))];
  t.same([...ids].sort(), withFiles.sort(), `one line per message with files (${withFiles.length}), live ones included`);
  t.equal(new Set(ids).size, ids.length, 'no message twice');
});
