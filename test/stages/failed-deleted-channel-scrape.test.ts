// Regression (outside test of issue 20, item 9): a failed file whose channel was deleted becomes `gone` (a
// `skipped` event with reason `deleted`) only under `dps retry-failed`. The default command, `scrape` (what a cron
// job runs), never retries it: with --all-channels the deleted channel is simply no longer listed, with
// --channel-id it is `not_found`; either way the failed records stay in the retry queue (`pending` in
// `dps status`) forever, and no event says so.

import t from 'tap';
import type { Test } from 'tap';
import { startFakeDiscord } from '../../fixtures/fake-discord.js';
import { buildScenario } from '../../fixtures/scenarios.js';
import { manifest } from '../../lib/index.js';
import { collect, runLibrary } from '../helpers/harness.js';
import { baseOptions } from '../helpers/verify.js';

type FileEvent = { event: string; reason?: string; attachment_id?: string };

async function deletedChannelThenScrape(t: Test, how: 'all-channels' | 'channel-id'): Promise<void> {
  const scenario = buildScenario({
    seed: 91,
    guilds: [
      {
        name: 'G',
        channels: [
          { name: 'keep', messages: 20, imageRatio: 0.7 },
          { name: 'doomed', messages: 20, imageRatio: 0.7 },
        ],
      },
    ],
  });
  const fake = await startFakeDiscord({ scenario, faults: { error5xxRate: 1, seed: 4, target: 'cdn', cdnRetryAfterSec: 0 } });
  t.teardown(() => fake.close());
  const [keep, doomed] = fake.scenario.guilds[0]!.channels.filter((c) => c.gen).map((c) => c.id) as [string, string];
  const options = baseOptions(fake, t.testdir(), doomed);
  const first = await runLibrary(options);
  const failed = (first.events as unknown as FileEvent[]).filter((e) => e.event === 'failed' && e.attachment_id !== undefined);
  t.ok(failed.length > 5, `${failed.length} files of #doomed failed`);

  fake.setOption({ faults: { error5xxRate: 0 } });
  fake.deleteChannel(doomed);
  const next = await runLibrary(how === 'all-channels' ? { ...options, channelIds: [], allChannels: true } : { ...options, channelIds: [keep, doomed] });
  const gone = (next.events as unknown as FileEvent[]).filter((e) => e.event === 'skipped' && e.reason === 'deleted' && e.attachment_id !== undefined);
  t.equal(gone.length, failed.length, 'each failed file of the deleted channel is reported skipped, reason deleted');
  const records = (await collect(manifest(options.state))).filter((r) => r.channel_id === doomed);
  t.same(
    records.filter((r) => r.status === 'failed').map((r) => r.attachment_id),
    [],
    'no failed record is left in the retry queue',
  );
}

t.test('scrape --all-channels after the channel was deleted', (t) => deletedChannelThenScrape(t, 'all-channels'));
t.test('scrape --channel-id of a deleted channel', (t) => deletedChannelThenScrape(t, 'channel-id'));
