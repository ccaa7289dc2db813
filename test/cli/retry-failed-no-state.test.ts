// Regression (outside test of issue 20, items 7 + 10): `dps retry-failed` only retries what an existing state
// recorded, yet a mistyped --state is created (an empty LevelDB, and the --out folder) and the run exits 0 having
// "retried" nothing: the mistyped path is taken for an archive with no failures, the case item 10 fixed for
// `status` and `manifest`.

import t from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startFakeDiscord } from '../../fixtures/fake-discord.js';
import { singleChannel } from '../../fixtures/scenarios.js';
import { runCli } from '../helpers/harness.js';

t.test('retry-failed with a --state that holds no dps state is refused (exit 5), nothing created', async (t) => {
  const fake = await startFakeDiscord({ scenario: singleChannel({ seed: 5, messages: 10 }) });
  t.teardown(() => fake.close());
  const dir = t.testdir();
  const typo = join(dir, 'stat');
  const run = await runCli([
    'retry-failed',
    '--api',
    fake.api,
    '--token',
    fake.token,
    '--server-id',
    fake.scenario.guilds[0]!.id,
    '--state',
    typo,
    '--out',
    join(dir, 'out'),
  ]);
  t.equal(run.code, 5, `exit 5: ${run.stderr.trim()}`);
  t.notOk(existsSync(typo), 'no state created at the mistyped path');
  t.notOk(existsSync(join(dir, 'out')), 'no --out folder created');
});
