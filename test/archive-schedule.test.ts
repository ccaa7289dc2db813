// Whole-server scheduling: the channels with the most history start first, and the summary reports the floor.

import t from 'tap';
import { join } from 'node:path';
import { startFakeDiscord } from '../fixtures/fake-discord.js';
import { buildScenario } from '../fixtures/scenarios.js';
import { runLibrary } from './helpers/harness.js';
import { runArchive } from '../lib/archive.js';
import type { RunEstimate } from '../lib/output/estimate.js';
import { eventsOf } from './helpers/events.js';

// Channels listed smallest first, spaced an hour a message: their history spans say how large they are.
function sizedServer(sizes = [30, 250, 60, 420, 120]) {
  return buildScenario({
    seed: 11,
    guilds: [{ name: 'Sized', channels: sizes.map((messages, i) => ({ name: `c${i}-${messages}`, messages, imageRatio: 0.1, spacingMs: 3_600_000 })) }],
  });
}

const HISTORY = 'GET /channels/:id/messages';

t.test('one channel at a time: largest first, whatever the listing order', async (t) => {
  const fake = await startFakeDiscord({ scenario: sizedServer() });
  t.teardown(() => fake.close());
  const dir = t.testdir();
  const guild = fake.scenario.guilds[0]!;
  const run = await runLibrary({
    token: fake.token,
    api: fake.api,
    guildId: guild.id,
    allChannels: true,
    channelConcurrency: 1,
    out: join(dir, 'out'),
    state: join(dir, 'state'),
  });
  t.equal(run.result.exitCode, 0);
  const firstRequest = new Map<string, number>();
  fake.requests.forEach((entry, index) => {
    if (entry.route === HISTORY && entry.channelId !== undefined && !firstRequest.has(entry.channelId)) firstRequest.set(entry.channelId, index);
  });
  const names = new Map(guild.channels.map((c) => [c.id, c.name]));
  const order = [...firstRequest.entries()].sort((a, b) => a[1] - b[1]).map(([id]) => names.get(id));
  t.same(order, ['c3-420', 'c1-250', 'c4-120', 'c2-60', 'c0-30'], 'walked largest first');
  const summary = eventsOf(run.events, 'summary')[0]!;
  t.ok(summary.estimated_floor_ms !== undefined && summary.estimated_floor_ms > 0, `the summary reports the floor (${summary.estimated_floor_ms} ms)`);
});

t.test('auto: every channel of a small server runs at once', async (t) => {
  // Every channel needs several requests of 30 ms each: none can end before the others have had their turn to start.
  const fake = await startFakeDiscord({ scenario: sizedServer([450, 500, 460, 520, 480]), rateLimit: { latencyMs: 30 } });
  t.teardown(() => fake.close());
  const dir = t.testdir();
  const guild = fake.scenario.guilds[0]!;
  const run = await runLibrary({ token: fake.token, api: fake.api, guildId: guild.id, allChannels: true, out: join(dir, 'out'), state: join(dir, 'state') });
  t.equal(run.result.exitCode, 0);
  // Every channel's first history request comes before any channel's last one: none waited for another to end.
  const first = new Map<string, number>();
  const last = new Map<string, number>();
  fake.requests.forEach((entry, index) => {
    if (entry.route !== HISTORY || entry.channelId === undefined) return;
    if (!first.has(entry.channelId)) first.set(entry.channelId, index);
    last.set(entry.channelId, index);
  });
  t.equal(first.size, 5);
  const lastStart = Math.max(...first.values());
  const firstEnd = Math.min(...last.values());
  t.ok(lastStart < firstEnd, `the last channel started (request ${lastStart}) before the first ended (request ${firstEnd})`);
  t.equal(eventsOf(run.events, 'summary')[0]!.channels, 5);
});

t.test('the estimate handed to the progress display follows the run', async (t) => {
  const fake = await startFakeDiscord({ scenario: sizedServer([300, 200]) });
  t.teardown(() => fake.close());
  const dir = t.testdir();
  let estimate: (() => RunEstimate | undefined) | undefined;
  const during: RunEstimate[] = [];
  const result = await runArchive(
    { token: fake.token, api: fake.api, guildId: fake.scenario.guilds[0]!.id, allChannels: true, out: join(dir, 'out'), state: join(dir, 'state') },
    {
      onStart: (_totals, given) => {
        estimate = given;
      },
      emit: (event) => {
        if (event.event === 'saved' && during.length === 0) during.push(estimate!()!);
      },
    },
  );
  t.equal(result.exitCode, 0);
  t.ok(estimate, 'onStart got an estimate');
  t.ok(during[0]!.channels_left >= 1, `while files are saved, channels are left (${JSON.stringify(during[0])})`);
  t.ok(during[0]!.downloads >= 1, 'the download concurrency');
  t.match(estimate!(), { pages_left: 0, channels_left: 0, channels_running: 0, eta_ms: 0 }, 'nothing left at the end');
});
