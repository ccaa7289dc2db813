// The archive of the stale-channel gallery tests (test/cli/gallery-stale.test.ts, test/s3/gallery-stale-cli.test.ts):
// a fake Discord with one server of two image channels, alpha and beta (six messages each, every one an image), and
// a channel's first saved files as the state's manifest lists them (the ones a test replaces with real pictures).

import type { Test } from 'tap';
import type { FakeDiscord } from '../../fixtures/fake-discord.js';
import { buildScenario } from '../../fixtures/scenarios.js';
import { fakeFor, runDps } from './helpers.js';
import type { Line } from './helpers.js';

// The fake (closed when the test ends), its server's id and the two channels' ids.
export async function twoImageChannels(t: Test, seed: number): Promise<{ fake: FakeDiscord; G: string; A: string; B: string }> {
  const images = { messages: 6, imageRatio: 1, gapRate: 0, sizes: [500, 2_000] as [number, number] };
  const fake = await fakeFor(t, {
    scenario: buildScenario({
      seed,
      guilds: [
        {
          name: 'Server',
          channels: [
            { name: 'alpha', ...images },
            { name: 'beta', ...images },
          ],
        },
      ],
    }),
  });
  const guild = fake.scenario.guilds[0]!;
  const [A, B] = guild.channels.filter((c) => c.gen).map((c) => c.id) as [string, string];
  return { fake, G: guild.id, A, B };
}

// The first `count` files of `channel` the state records as saved under their own name (no duplicates).
export async function firstSaved(state: string, channel: string, count: number): Promise<Line[]> {
  const records = (await runDps(['manifest', '--state', state, '--channel-id', channel])).lines;
  return records.filter((r) => r.status === 'saved' && r.duplicate_of === undefined).slice(0, count);
}
