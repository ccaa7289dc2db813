// `dps follow` end to end: the built CLI against the fake Discord's REST API and Gateway. It catches up, saves
// files posted live, survives kill -9 (files posted while it is down come with the next start's catch-up) and a
// dropped connection, stops on SIGINT with exit 130, and every file is on disk once, byte-exact, downloaded once.

import t from 'tap';
import { join } from 'node:path';
import { startFakeDiscord } from '../../fixtures/fake-discord.js';
import { singleChannel } from '../../fixtures/scenarios.js';
import { spawnCli } from '../helpers/harness.js';
import { startFollow } from './follow-cli.js';
import { checkArchive } from '../helpers/verify.js';

t.test('catch-up, live files, kill -9 and restart, a dropped connection, SIGINT: every file once', async (t) => {
  const fake = await startFakeDiscord({ scenario: singleChannel({ messages: 120, imageRatio: 0.3 }), gateway: { identifyIntervalMs: 0 } });
  t.teardown(() => fake.close());
  const dir = t.testdir();
  const guildId = fake.scenario.guilds[0]!.id;
  const channelId = fake.scenario.guilds[0]!.channels[0]!.id;
  const args = ['--server-id', guildId, '--channel-id', channelId, '--out', join(dir, 'out'), '--state', join(dir, 'state'), '--types', 'all'];
  const expected = (): string[] => [...fake.expected({ channelId })].map((file) => file.attachment_id);

  const first = startFollow(t, fake, args);
  await first.until('the catch-up', () => first.events.some((e) => e.event === 'channel_done'));
  t.equal(first.saved().size, expected().length, 'the history is archived');
  const posted = fake.postMessage(channelId, { attachments: 2 });
  await first.until('the live files', () => posted.files.every((file) => first.saved().has(file.attachment_id)));
  t.match(first.stderr(), /saved /, 'a line per saved file on stderr');
  first.child.kill('SIGKILL');
  t.equal((await first.exited).signal, 'SIGKILL');

  // Posted while dps is down: no event will ever carry them; the next start's catch-up must.
  const whileDown = fake.postMessage(channelId, { attachments: 1 });
  const second = startFollow(t, fake, args);
  await second.until('the files posted while down', () => whileDown.files.every((file) => second.saved().has(file.attachment_id)));
  fake.gateway!.drop(); // the connection is lost: resumed, nothing missed
  const afterDrop = fake.postMessage(channelId, { attachments: 1 });
  await second.until('the file posted after the drop', () => afterDrop.files.every((file) => second.saved().has(file.attachment_id)));
  second.child.kill('SIGINT');
  const { code } = await second.exited;
  t.equal(code, 130, 'SIGINT: exit 130 after the files in flight');
  t.ok(
    second.events.some((e) => e.event === 'summary'),
    'the summary is the last event',
  );

  const check = await checkArchive(fake, join(dir, 'out'), join(dir, 'state'), channelId);
  t.same(check.missing, [], 'every file posted is archived');
  t.same(check.extraFiles, [], 'none stored twice');
  t.equal(check.exact, expected().length, 'byte-exact');
  const downloads = fake.requests.filter((r) => r.kind === 'cdn' && r.status === 200).length;
  t.equal(downloads, expected().length, 'none downloaded twice');
  const announced = [...first.events, ...second.events].filter((e) => e.event === 'saved').map((e) => String(e.attachment_id));
  t.ok(announced.length <= expected().length + 2, 'announced once (a kill may repeat only the files of its last second)');
});

t.test('usage errors: no --dry-run, no windows, a poll interval under 10 s; each one line, exit 2', async (t) => {
  const cases = [['--dry-run'], ['--after', '2024-01-01'], ['--token-type', 'user', '--poll-interval', '5']];
  t.testdir();
  for (const extra of cases) {
    const child = spawnCli(['follow', '--server-id', '1', '--channel-id', '2', ...extra], { cwd: t.testdirName, env: { DISCORD_TOKEN: 'x.y.z' } });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    t.equal(code, 2, `${extra.join(' ')}: exit 2`);
    const lines = stderr
      .trim()
      .split('\n')
      .filter((line) => !line.startsWith('warning:'));
    t.equal(lines.length, 1, `${extra.join(' ')}: one line (${stderr.trim()})`);
  }
});
