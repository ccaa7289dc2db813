// Long rate-limit waits (issue 20 item 14): a wait over the notice threshold is announced once, a wait over
// --max-wait is refused with DPS_RATE_LIMIT before anything sleeps, wherever a rate limit is waited out: the
// global limit and the pacer (a 429 on any route, a bucket with nothing remaining).
// The 2-hour waits below would hang the test if anything slept through them.
import t from 'tap';
import { startFakeDiscord } from '../../fixtures/fake-discord.js';
import { singleChannel } from '../../fixtures/scenarios.js';
import { DiscordClient } from '../../lib/discord/client.js';
import { GlobalLimit } from '../../lib/discord/global-limit.js';
import { decideWait, LongWaits, longWaitLine } from '../../lib/discord/long-wait.js';
import type { RateLimitWait } from '../../lib/discord/long-wait.js';
import { readRateLimit } from '../../lib/discord/rate-limit-headers.js';
import { Pacer } from '../../lib/discord/pacer.js';
import { RateLimitWaitError } from '../../lib/errors.js';
import { SkipClock } from '../helpers/manual-clock.js';

const POLICY = { noticeMs: 10_000, maxWaitMs: 15 * 60_000 };
const headers = (h: Record<string, string>) => ({ get: (name: string) => h[name.toLowerCase()] ?? null });
const answer = (status: number, h: Record<string, string>) => readRateLimit(status, headers(h));

t.test('the decision: quiet up to 10 s, announced above, refused above --max-wait', async (t) => {
  t.equal(decideWait(500, POLICY), 'wait');
  t.equal(decideWait(10_000, POLICY), 'wait');
  t.equal(decideWait(30_000, POLICY), 'announce', 'a 30 s Retry-After with the default --max-wait is announced');
  t.equal(decideWait(15 * 60_000, POLICY), 'announce');
  t.equal(decideWait(2 * 3_600_000, POLICY), 'stop', 'a 2-hour Retry-After with --max-wait 15m stops');
  t.equal(decideWait(Number.NaN, POLICY), 'wait');
});

t.test('a long wait is announced once however many requests meet it; a later one again', async (t) => {
  let now = Date.parse('2026-12-06T03:00:00Z');
  const seen: RateLimitWait[] = [];
  const waits = new LongWaits(
    POLICY,
    (wait) => seen.push(wait),
    () => now,
  );
  waits.check('global', 30_000);
  waits.check('route', 30_000, 'GET /channels/1/messages');
  now += 5;
  waits.check('global', 29_995); // another request held by the same global 429
  waits.check('route', 2_000, 'GET /channels/2/messages'); // short: quiet
  t.equal(seen.length, 2, 'one notice per thing waited for');
  t.same(seen[0], { scope: 'global', route: undefined, waitMs: 30_000, until: Date.parse('2026-12-06T03:00:30Z') });
  t.equal(longWaitLine(seen[0]!), "waiting 30 s for Discord's global rate limit, until 2026-12-06T03:00:30Z");
  t.equal(longWaitLine(seen[1]!), 'waiting 30 s for the rate limit of GET /channels/1/messages, until 2026-12-06T03:00:30Z');
  now += 60_000;
  waits.check('global', 20_000);
  t.equal(seen.length, 3, 'a new wait after the first ended is announced');
  const error = t.throws(() => waits.check('route', 7_200_000, 'GET /channels/1/messages')) as RateLimitWaitError;
  t.ok(error instanceof RateLimitWaitError);
  t.equal(error.code, 'DPS_RATE_LIMIT');
  t.equal(error.exitCode, 1);
  t.match(error.message, /wait 2 h for the rate limit of GET \/channels\/1\/messages \(until 2026-12-06T05:01:0\dZ\), longer than --max-wait 15 min.*re-run/);
  t.equal(seen.length, 3, 'a refused wait is not announced as a wait');
});

t.test('the global limit and the pacer ask before they sleep', async (t) => {
  const limit = new GlobalLimit(50, (ms) => {
    if (ms > 60_000) throw new RateLimitWaitError('too long', { waitMs: ms, until: Date.now() + ms });
  });
  await limit.wait();
  limit.block(Date.now() + 7_200_000);
  await t.rejects(limit.wait(), { code: 'DPS_RATE_LIMIT' }, 'a global block of 2 h is refused at once');

  const asked: Array<[string, number]> = [];
  const pacer = new Pacer({
    onWait: (route, ms) => {
      asked.push([route, ms]);
      if (ms > 60_000) throw new RateLimitWaitError('too long', { waitMs: ms, until: Date.now() + ms });
    },
  });
  const path = '/channels/11111/messages';
  (await pacer.wait(path))(true);
  // A bucket with nothing remaining and its reset two hours away.
  pacer.onResponse(path, answer(200, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset-after': '7200' }));
  await t.rejects(pacer.wait(path), { code: 'DPS_RATE_LIMIT' });
  t.equal(asked.length, 1);
  t.equal(asked[0]![0], path);
  t.ok(asked[0]![1] > 7_100_000, `the wait asked about: ${asked[0]![1]} ms`);
});

t.test('against the fake: a 2-hour Retry-After stops before sleeping, on every path; a short long one is announced', async (t) => {
  const fake = await startFakeDiscord({ scenario: singleChannel({ seed: 71, messages: 30 }) });
  t.teardown(() => fake.close());
  const channel = fake.scenario.guilds[0]!.channels[0]!;
  const seen: RateLimitWait[] = [];
  const connect = (clock?: SkipClock): DiscordClient => {
    const client = new DiscordClient({
      ...(clock ? { clock } : {}),
      token: fake.token,
      api: fake.api,
      backoffMs: 10,
      maxWaitMs: 15 * 60_000,
      noticeWaitMs: 300,
      onLongWait: (wait) => void seen.push(wait),
    });
    t.teardown(() => client.close());
    return client;
  };

  // Message history, a per-route 429.
  fake.forceStatus('GET /channels/:id/messages', 429, 1, { retryAfter: 7200 });
  await t.rejects(connect().get(`/channels/${channel.id}/messages`, { query: { limit: '10' } }), {
    code: 'DPS_RATE_LIMIT',
    message: /wait 2 h for the rate limit of GET \/channels\/\d+\/messages/,
  });
  // Another route, per route and global.
  fake.forceStatus('GET /channels/:id', 429, 1, { retryAfter: 7200 });
  await t.rejects(connect().get(`/channels/${channel.id}`), { code: 'DPS_RATE_LIMIT', message: /rate limit of GET \/channels\/\d+/ });
  fake.forceStatus('GET /channels/:id', 429, 1, { retryAfter: 7200, scope: 'global' });
  const client = connect();
  await t.rejects(client.get(`/channels/${channel.id}`), { code: 'DPS_RATE_LIMIT', message: /Discord's global rate limit/ });
  const before = fake.requests.length;
  await t.rejects(client.get('/users/@me'), { code: 'DPS_RATE_LIMIT' }, 'the next request of that client is refused too');
  t.equal(fake.requests.length, before, 'without being sent');
  t.same(seen, [], 'nothing announced for refused waits');

  // Waits over the notice threshold but under --max-wait: announced once, waited out (on a clock whose sleeps
  // end at once), the request succeeds.
  fake.forceStatus('GET /channels/:id/messages', 429, 1, { retryAfter: 0.6 });
  const routeClock = new SkipClock();
  const pages = await connect(routeClock).get<unknown[]>(`/channels/${channel.id}/messages`, { query: { limit: '10' } });
  t.equal(pages.length, 10);
  t.ok(
    routeClock.slept.some((ms) => ms >= 600),
    `the route's 600 ms waited out (${routeClock.slept.join(', ')} ms)`,
  );
  fake.forceStatus('GET /channels/:id', 429, 1, { retryAfter: 0.6, scope: 'global' });
  const globalClock = new SkipClock();
  await connect(globalClock).get(`/channels/${channel.id}`);
  t.ok(
    globalClock.slept.some((ms) => ms >= 600),
    `the global 600 ms waited out (${globalClock.slept.join(', ')} ms)`,
  );
  t.match(seen, [
    { scope: 'route', route: `GET /channels/${channel.id}/messages`, waitMs: Number },
    { scope: 'global', waitMs: Number },
  ]);
  t.equal(seen.length, 2, 'each announced once');
  for (const wait of seen) t.ok(wait.waitMs > 300 && wait.until > Date.now() - 5_000, `${wait.scope}: ${wait.waitMs} ms`);
});

t.test('the wait requests are in now, for the progress display: the one that ends last, none once it is over', async (t) => {
  let now = 1_000_000;
  const waits = new LongWaits(POLICY, undefined, () => now);
  t.equal(waits.waiting(), undefined, 'none before any');
  waits.check('route', 2_000, 'GET /channels/1/messages'); // short and quiet, but a wait all the same
  t.same(waits.waiting(), { scope: 'route', until: 1_002_000 });
  waits.check('global', 30_000);
  waits.check('route', 1_000, 'GET /channels/2/messages');
  t.same(waits.waiting(), { scope: 'global', until: 1_030_000 }, 'the one that ends last');
  now += 30_000;
  t.equal(waits.waiting(), undefined, 'over');
  t.throws(() => waits.check('global', 7_200_000));
  t.equal(waits.waiting(), undefined, 'a wait refused (over --max-wait) is not waited');
});
