// A wait over --max-wait before any channel started (a global 429 of hours on the run's first request): the run
// still ends with a summary and exit 1 (DPS_RATE_LIMIT), not a rejection without one, and nothing sleeps.
import t from 'tap';
import { startFakeDiscord } from '../fixtures/fake-discord.js';
import { singleChannel } from '../fixtures/scenarios.js';
import { runLibrary } from './helpers/harness.js';
import { baseOptions } from './helpers/verify.js';

t.test('a global Retry-After of 2 hours on the first request: summary, exit 1, one request', async (t) => {
  const fake = await startFakeDiscord({ scenario: singleChannel({ seed: 73, messages: 20 }) });
  t.teardown(() => fake.close());
  const channel = fake.scenario.guilds[0]!.channels[0]!;
  fake.forceStatus('GET /users/@me', 429, 1, { retryAfter: 7200, scope: 'global' });
  const run = await runLibrary({ ...baseOptions(fake, t.testdir(), channel.id), maxWait: '1h' });
  t.equal(run.result.exitCode, 1);
  const summary = run.events.at(-1) as { event: string; exit_code: number; error?: string };
  t.equal(summary.event, 'summary');
  t.equal(summary.exit_code, 1);
  t.match(summary.error, /wait 2 h for Discord's global rate limit \(until .*Z\), longer than --max-wait 1 h/);
  t.match(run.logs.join(''), /stopped: stopping: Discord asks to wait 2 h/);
  t.equal(fake.requests.length, 1, 'one request, not retried');
});
