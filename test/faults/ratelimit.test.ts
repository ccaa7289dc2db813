// Rate limits: 429s on one bucket become waits, not failures or retry storms; 401/403/429 count against the
// invalid-request budget (shared-scope 429s excluded) and the client stops cleanly before spending it; a bad
// token costs exactly one request; a Cloudflare ban (429 without Retry-After) stops at once; --polite paces.

import t from 'tap';
import { startFakeDiscord } from '../../fixtures/fake-discord.js';
import { singleChannel } from '../../fixtures/scenarios.js';
import { DiscordClient } from '../../lib/discord/client.js';
import { DpsError } from '../../lib/index.js';
import { runLibrary } from '../helpers/harness.js';
import { assertExact, baseOptions } from '../helpers/verify.js';

const HISTORY = 'GET /channels/:id/messages';

t.test('a bucket that answers 429 for a while produces waits, not failures, and no retry storm', async (t) => {
  const fake = await startFakeDiscord({
    scenario: singleChannel({ seed: 31, messages: 650, imageRatio: 0.1, sizes: [1_000, 4_000] }),
    // Message history really allows 3 requests per second but advertises 50 (a lying header), and on top
    // the bucket is forced to answer 429 six times in a row.
    rateLimit: { hidden: { limit: 3, windowMs: 1000, advertisedLimit: 50 } },
  });
  t.teardown(() => fake.close());
  const channel = fake.scenario.guilds[0]!.channels[0]!;
  fake.forceStatus(HISTORY, 429, 6, { channelId: channel.id, retryAfter: 0.4 });
  const options = { ...baseOptions(fake, t.testdir(), channel.id), backoffMs: 20 };
  const run = await runLibrary(options);
  t.equal(run.result.exitCode, 0, 'exit code 0');
  t.same(
    run.events.filter((e) => e.event === 'failed'),
    [],
    'no failed events',
  );
  const history = fake.requests.filter((r) => r.route === HISTORY);
  const limited = history.filter((r) => r.status === 429).length;
  const ok = history.filter((r) => r.status === 200).length;
  t.ok(limited >= 6, `the bucket answered 429 ${limited} times`);
  t.ok(ok >= 7 && ok <= 9, `each page was fetched once (${ok} pages)`);
  t.ok(limited <= 6 + ok * 2, `429s stayed bounded: ${limited} for ${ok} pages (no retry storm)`);
  t.ok(fake.stats.invalid < 100, `far below the invalid-request limit (${fake.stats.invalid} of 10,000)`);
  await assertExact(t, fake, options.out, options.state, channel.id);
});

t.test('401/403/429 count against the invalid-request budget, shared 429s do not, and the client stops before the limit', async (t) => {
  const fake = await startFakeDiscord({ scenario: singleChannel({ seed: 32, messages: 10 }) });
  t.teardown(() => fake.close());
  const channel = fake.scenario.guilds[0]!.channels[0]!;
  const client = new DiscordClient({ token: fake.token, api: fake.api, backoffMs: 10, invalidBudget: 8 });
  t.teardown(() => client.close());

  fake.forceStatus('GET /channels/:id', 429, 2, { retryAfter: 0.01, scope: 'shared' });
  await client.get(`/channels/${channel.id}`);
  t.equal(client.invalidInWindow(), 0, 'shared-scope 429s are not counted');
  fake.forceStatus('GET /channels/:id', 429, 1, { retryAfter: 0.01, scope: 'user' });
  await client.get(`/channels/${channel.id}`);
  t.equal(client.invalidInWindow(), 1, 'a user-scope 429 is counted (and waited out)');

  fake.forceStatus('GET /channels/:id', 403, 1000);
  let accessErrors = 0;
  let stop: DpsError | undefined;
  for (let i = 0; i < 50 && !stop; i++) {
    try {
      await client.get(`/channels/${channel.id}`);
    } catch (error) {
      if (error instanceof DpsError && error.code === 'DPS_ACCESS') accessErrors++;
      else stop = error as DpsError;
    }
  }
  t.equal(accessErrors, 7, 'each 403 is one request, never retried');
  t.equal(stop?.code, 'DPS_RATE_LIMIT_BUDGET', 'the client stops with DPS_RATE_LIMIT_BUDGET');
  t.match(stop?.message ?? '', /invalid requests.*10,000.*re-run/, 'with a clear message');
  t.notMatch(stop?.message ?? '', /\n/, 'on one line');
  const before = fake.requests.length;
  await t.rejects(client.get('/users/@me'), { code: 'DPS_RATE_LIMIT_BUDGET' }, 'no further request is made');
  t.equal(fake.requests.length, before, 'nothing was sent after the stop');
});

t.test('a bad token causes exactly one request', async (t) => {
  const fake = await startFakeDiscord({ scenario: singleChannel({ seed: 33, messages: 10 }) });
  t.teardown(() => fake.close());
  const channel = fake.scenario.guilds[0]!.channels[0]!;
  const options = { ...baseOptions(fake, t.testdir(), channel.id), token: 'not-the-right-token-at-all' };
  await t.rejects(runLibrary(options), { code: 'DPS_AUTH' }, 'AuthError');
  t.equal(fake.requests.length, 1, 'one request');
  t.equal(fake.requests[0]?.status, 401);
});

t.test('a Cloudflare ban (429 without Retry-After) stops the run after one request', async (t) => {
  const fake = await startFakeDiscord({ scenario: singleChannel({ seed: 34, messages: 10 }), cloudflareBan: { threshold: 0, durationMs: 60_000 } });
  t.teardown(() => fake.close());
  const channel = fake.scenario.guilds[0]!.channels[0]!;
  const options = baseOptions(fake, t.testdir(), channel.id);
  const outcome = await runLibrary(options).then(
    (run) => ({ code: run.result.exitCode, message: String((run.events.at(-1) as { error?: string }).error) }),
    (error: DpsError) => ({ code: error.code, message: error.message }),
  );
  t.match(outcome.message, /1015.*re-run/, `a clear message: ${outcome.message}`);
  t.ok(fake.requests.length <= 2, `${fake.requests.length} request(s), no retry storm`);
});

t.test('--polite paces requests below a hidden sub-limit: no 429 at all', async (t) => {
  const fake = await startFakeDiscord({
    scenario: singleChannel({ seed: 35, messages: 320, imageRatio: 0.1, sizes: [1_000, 3_000] }),
    rateLimit: { hidden: { limit: 2, windowMs: 1500, advertisedLimit: 50 } },
  });
  t.teardown(() => fake.close());
  const channel = fake.scenario.guilds[0]!.channels[0]!;
  const options = { ...baseOptions(fake, t.testdir(), channel.id), polite: true };
  const run = await runLibrary(options);
  t.equal(run.result.exitCode, 0, 'exit code 0');
  t.equal(fake.stats.status429, 0, 'no 429 while polite');
  await assertExact(t, fake, options.out, options.state, channel.id);
});
