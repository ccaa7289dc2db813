// Regression (outside test of issue 20, items 3 + 6): a re-walk (filter_widened) resets the channel's cursor in the
// state; progress.json is rewritten only every 2 s, so a crash (kill -9, power loss) right after the reset leaves a
// progress.json with the old, higher cursor. The next run must not take the re-walk's reset cursor for lost
// records: no `state_damaged` warning (which also turns on re-adoption of files found in --out).

import t from 'tap';
import { join } from 'node:path';
import { startFakeDiscord } from '../fixtures/fake-discord.js';
import { singleChannel } from '../fixtures/scenarios.js';
import { openStore } from '../lib/store/open.js';
import { walkFilterOf } from '../lib/store/walked-with.js';
import { runLibrary } from './helpers/harness.js';
import { assertExact, baseOptions } from './helpers/verify.js';

t.test('a crash right after a re-walk reset the cursor is not reported as a damaged state', async (t) => {
  const fake = await startFakeDiscord({ scenario: singleChannel({ seed: 83, messages: 80, imageRatio: 0.6, otherRatio: 0.2, sizes: [200, 3_000] }) });
  t.teardown(() => fake.close());
  const dir = t.testdir();
  const channel = fake.scenario.guilds[0]!.channels[0]!;
  const options = { ...baseOptions(fake, dir, channel.id), state: join(dir, 'data', 'state') };
  const first = await runLibrary({ ...options, types: 'png' });
  t.equal(first.result.exitCode, 0, 'the png run completes and writes progress.json with its cursor');

  // What the widening run does first (lib/rewalk.ts reconcileFilter), then the process dies before the next
  // progress.json write.
  const store = await openStore(options.state);
  await store.restartWalk(channel.id, walkFilterOf({ types: 'all', maxSize: undefined, embeds: false, stickers: false }));
  await store.close();

  const second = await runLibrary(options);
  t.equal(second.result.exitCode, 0);
  const damaged = second.events.filter((e) => e.event === 'warning' && (e as { code?: string }).code === 'state_damaged');
  t.same(damaged, [], 'no state_damaged warning: the state lost nothing, it is re-walking');
  t.notMatch(second.logs.join(''), /the state lost records/, 'nothing on stderr about lost records');
  await assertExact(t, fake, options.out, options.state, channel.id);
});
