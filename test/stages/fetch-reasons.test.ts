// Every `failed` event carries one of the README's documented reason codes (issue 20: "every failure visible
// with a documented code"). A CDN connection that is reset or closed mid-body is a network failure, never an
// undocumented code such as `download` (failureReason, lib/stages/failure.ts).

import t from 'tap';
import { startFakeDiscord } from '../../fixtures/fake-discord.js';
import { singleChannel } from '../../fixtures/scenarios.js';
import { runLibrary } from '../helpers/harness.js';
import { baseOptions, isDocumentedReason } from '../helpers/verify.js';

for (const fault of [{ resetRate: 1 }]) {
  t.test(`CDN faults ${JSON.stringify(fault)}: only documented failure reasons`, async (t) => {
    const fake = await startFakeDiscord({
      scenario: singleChannel({ seed: 4, messages: 4, gapRate: 0, imageRatio: 1, sizes: [500, 2_000] }),
      faults: { ...fault, target: 'cdn', seed: 1, cdnRetryAfterSec: 0 },
    });
    t.teardown(() => fake.close());
    const channel = fake.scenario.guilds[0]!.channels[0]!;
    const run = await runLibrary({ ...baseOptions(fake, t.testdir(), channel.id), concurrency: 8 });
    t.equal(run.result.exitCode, 1, 'exit 1: files failed');
    const failed = run.events.filter((e) => e.event === 'failed') as Array<{ reason: string; detail?: string }>;
    t.ok(failed.length > 0, `${failed.length} failed events`);
    const undocumented = failed.filter((e) => !isDocumentedReason(e.reason));
    t.same(undocumented.map((e) => `${e.reason}: ${e.detail}`).slice(0, 3), [], 'every reason is documented');
  });
}
