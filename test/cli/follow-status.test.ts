// `dps status` of a followed state, end to end: while `dps follow` runs (it holds the state's lock), another
// process's `dps status` shows each followed channel `following: true` with the time its last live message was
// finished (`last_event_at`) and the lag from that message's post to its files being durable (`lag_ms`); a
// channel of the state the follow does not follow is not marked. Once the follow stops, the state keeps the
// last values and nothing is `following`.

import t from 'tap';
import { join } from 'node:path';
import { startFakeDiscord } from '../../fixtures/fake-discord.js';
import { buildScenario } from '../../fixtures/scenarios.js';
import { snowflakeToDate } from '../../lib/util/snowflake.js';
import { allSaved, channelStatus, startFollow, statusOf, statusUntil } from './follow-cli.js';
import { runDps } from './helpers.js';

t.test('dps status while following and after: following, last_event_at, lag_ms', async (t) => {
  const scenario = buildScenario({
    seed: 24,
    guilds: [
      {
        name: 'Followed',
        channels: [
          { name: 'live', messages: 20, imageRatio: 0.5 },
          { name: 'other', messages: 10, imageRatio: 0.5 },
        ],
      },
    ],
  });
  const fake = await startFakeDiscord({ scenario, gateway: { identifyIntervalMs: 0 } });
  t.teardown(() => fake.close());
  const dir = t.testdir();
  const guildId = fake.scenario.guilds[0]!.id;
  const [live, other] = fake.scenario.guilds[0]!.channels.map((c) => c.id) as [string, string];
  const state = join(dir, 'state');
  const common = ['--server-id', guildId, '--out', join(dir, 'out'), '--state', state, '--types', 'all'];

  // The other channel is in the state (an earlier scrape) but not followed.
  const scraped = await runDps(['scrape', ...common, '--channel-id', other], { cwd: dir, env: { DISCORD_TOKEN: fake.token, DISCORD_API_URL: fake.api } });
  t.equal(scraped.code, 0, `the scrape of the other channel (${scraped.stderr})`);

  const follow = startFollow(t, fake, [...common, '--channel-id', live]);
  await follow.until('the catch-up', () => follow.events.some((e) => e.event === 'channel_done'));
  const before = Date.now();
  const posted = fake.postMessage(live, { attachments: 2 });
  await follow.until('the live files', () => allSaved(follow, posted.files));

  const savedAt = Date.now();
  // Until it shows the live message, or a progress.json written well after the files were saved (then it must).
  const running = await statusUntil(
    state,
    dir,
    (s) => channelStatus(s, guildId, live)?.last_event_at !== undefined || Date.parse(s.report.as_of ?? '') > savedAt + 3000,
  );
  t.equal(running.code, 0, 'status answers while the follow holds the state');
  t.match(running.stderr, /in use by a running/, 'from the running follow’s progress.json');
  const entry = channelStatus(running, guildId, live)!;
  t.equal(entry.following, true, 'the followed channel: following: true');
  const finished = Date.parse(entry.last_event_at!);
  t.ok(finished >= before && finished <= Date.now(), `last_event_at is the time the live message was finished (${entry.last_event_at})`);
  t.type(entry.lag_ms, 'number', 'lag_ms is given');
  t.ok(entry.lag_ms! >= 0, 'lag_ms is not negative');
  t.equal(entry.lag_ms, finished - snowflakeToDate(posted.id).getTime(), 'lag_ms: from the post (its id’s time) to the files durable');
  const otherEntry = channelStatus(running, guildId, other);
  t.ok(otherEntry, 'the other channel of the state is listed');
  t.notOk(otherEntry?.following, 'a channel of the state that is not followed is not following');
  t.notOk(otherEntry?.last_event_at, 'and has no live event');

  follow.child.kill('SIGINT');
  t.equal((await follow.exited).code, 130, 'SIGINT: exit 130');

  const after = await statusOf(state, dir);
  t.equal(after.code, 0, 'status of the stopped follow');
  t.equal(after.report.as_of, undefined, 'read from the state itself');
  const kept = channelStatus(after, guildId, live)!;
  t.notOk(kept.following, 'no longer following once stopped');
  t.equal(kept.last_event_at, entry.last_event_at, 'the state keeps last_event_at');
  t.equal(kept.lag_ms, entry.lag_ms, 'and lag_ms');
  t.equal(kept.last_message_id, posted.id, 'the cursor is at the live message');
});
