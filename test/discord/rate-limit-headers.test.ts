// lib/discord/rate-limit-headers.ts: what a response says about the rate limits, read from real HTTP answers of
// the fake Discord (a 429 of a route, a global 429, an ordinary page) and from hand-made headers for the edges
// (a body's exact retry_after, a missing or absurd Retry-After, repeated headers).
import t from 'tap';
import { request } from 'undici';
import { startFakeDiscord } from '../../fixtures/fake-discord.js';
import { singleChannel } from '../../fixtures/scenarios.js';
import { MAX_RETRY_AFTER_S, parseRetryAfter, readRateLimit } from '../../lib/discord/rate-limit-headers.js';

const headers = (h: Record<string, string>) => ({ get: (name: string) => h[name.toLowerCase()] ?? null });
const json = { 'content-type': 'application/json' };

t.test('from the fake over HTTP: a route 429, a global 429 and an ordinary page', async (t) => {
  const fake = await startFakeDiscord({ scenario: singleChannel({ seed: 3, messages: 5 }) });
  t.teardown(() => fake.close());
  const channel = fake.scenario.guilds[0]!.channels[0]!;
  const get = async (path: string) => {
    const response = await request(`${fake.api}${path}`, { headers: { authorization: `Bot ${fake.token}`, 'user-agent': 'DiscordBot (test, 1)' } });
    const text = await response.body.text();
    const h = new Headers();
    for (const [name, value] of Object.entries(response.headers)) if (typeof value === 'string') h.set(name, value);
    return readRateLimit(response.statusCode, h, text);
  };

  fake.forceStatus('GET /channels/:id/messages', 429, 1, { retryAfter: 2.5 });
  const route = await get(`/channels/${channel.id}/messages?limit=10`);
  t.equal(route.status, 429);
  t.equal(route.retryAfterMs, 2500, "the body's exact retry_after, below the header's rounded-up 3 s");
  t.equal(route.global, false);
  t.equal(route.shared, false);

  fake.forceStatus('GET /channels/:id', 429, 1, { retryAfter: 0.25, scope: 'global' });
  const global = await get(`/channels/${channel.id}`);
  t.equal(global.global, true, 'X-RateLimit-Global / scope global');
  t.equal(global.retryAfterMs, 250);

  fake.forceStatus('GET /channels/:id', 429, 1, { retryAfter: 1, scope: 'shared' });
  t.equal((await get(`/channels/${channel.id}`)).shared, true, 'a shared-scope 429');

  const page = await get(`/channels/${channel.id}/messages?limit=10`);
  t.equal(page.status, 200);
  t.ok(Number.isNaN(page.retryAfterMs), 'no wait outside a 429');
  t.ok(page.limit !== undefined && page.limit > 0, `X-RateLimit-Limit read: ${page.limit}`);
  t.type(page.remaining, 'number');
  t.ok(page.resetAfterMs !== undefined && page.resetAfterMs >= 0, `X-RateLimit-Reset-After read: ${page.resetAfterMs} ms`);
});

t.test("a 429's wait: the exact body below the header, else the header; none without one", async (t) => {
  const body = (retry: unknown) => JSON.stringify({ retry_after: retry });
  t.equal(readRateLimit(429, headers({ ...json, 'retry-after': '2' }), body(1.234)).retryAfterMs, 1234);
  t.equal(readRateLimit(429, headers({ ...json, 'retry-after': '2' }), body(5)).retryAfterMs, 2000, 'a body above the header is not taken');
  t.equal(readRateLimit(429, headers({ 'retry-after': '2' }), body(1)).retryAfterMs, 2000, 'a body that is not JSON by its type is not read');
  t.equal(readRateLimit(429, headers({ ...json, 'retry-after': '2' }), 'not json').retryAfterMs, 2000, 'an unparsable body: the header stands');
  t.ok(Number.isNaN(readRateLimit(429, headers(json), body(1)).retryAfterMs), 'no Retry-After (a Cloudflare ban): NaN, whatever the body says');
  t.ok(Number.isNaN(readRateLimit(429, headers({ 'retry-after': '0' })).retryAfterMs), 'zero is no wait to go by');
  t.equal(readRateLimit(429, headers({ 'retry-after': '1e300' })).retryAfterMs, MAX_RETRY_AFTER_S * 1000, 'an absurd header is held at 30 days');
  t.equal(readRateLimit(429, headers({ 'retry-after': 'Infinity' })).retryAfterMs, MAX_RETRY_AFTER_S * 1000);
});

t.test('bucket headers: invalid values are dropped, resets held at 30 days', async (t) => {
  const answer = readRateLimit(
    200,
    headers({ 'x-ratelimit-limit': '0', 'x-ratelimit-remaining': 'x', 'x-ratelimit-reset-after': '-1', 'x-ratelimit-scope': 'user' }),
  );
  t.same(
    { limit: answer.limit, remaining: answer.remaining, resetAfterMs: answer.resetAfterMs, global: answer.global, shared: answer.shared },
    { limit: undefined, remaining: undefined, resetAfterMs: undefined, global: false, shared: false },
  );
  const valid = readRateLimit(200, headers({ 'x-ratelimit-limit': '5', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset-after': '0.25' }));
  t.same({ limit: valid.limit, remaining: valid.remaining, resetAfterMs: valid.resetAfterMs }, { limit: 5, remaining: 0, resetAfterMs: 250 });
  t.equal(readRateLimit(200, headers({ 'x-ratelimit-reset-after': '1e12' })).resetAfterMs, MAX_RETRY_AFTER_S * 1000);
});

t.test('parseRetryAfter, shared with CDN downloads: seconds, held at 30 days; repeated headers read from the first', async (t) => {
  t.equal(parseRetryAfter('3'), 3);
  t.equal(parseRetryAfter('0'), 0);
  t.equal(parseRetryAfter(['7', '9']), 7, 'a repeated header (undici gives an array)');
  t.equal(parseRetryAfter('1e300'), MAX_RETRY_AFTER_S);
  t.equal(parseRetryAfter(undefined), undefined);
  t.equal(parseRetryAfter(null), undefined);
  t.equal(parseRetryAfter(''), undefined);
  t.equal(parseRetryAfter('-1'), undefined);
  t.equal(parseRetryAfter('Wed, 21 Oct 2026 07:28:00 GMT'), undefined, 'an HTTP date (Discord sends seconds)');
});
