// lib/discord/client.ts: every route through @discordjs/rest over our Agent, with Authorization and User-Agent,
// a 429 waited for its exact retry_after, a global 429 holding every other request too, a Cloudflare ban (429
// without Retry-After) stopping after one request, 5xx retried with backoff, 4xx translated into our errors
// (typed status, cause) with Discord's message (or the status text for an HTML page), and aborts.
import t from 'tap';
import type { Test } from 'tap';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { requestsSeen, startHangingServer } from '../../fixtures/hanging-server.js';
import { DiscordClient } from '../../lib/discord/client.js';
import { ManualClock, settle, SkipClock } from '../helpers/manual-clock.js';
import { isDpsError } from '../../lib/errors.js';
import type { DpsError } from '../../lib/errors.js';

interface Reply {
  status: number;
  headers?: Record<string, string>;
  body: string;
}

interface Seen {
  url: string;
  at: number;
  headers: IncomingHttpHeaders;
}

const json = { 'content-type': 'application/json' };
// Message ids as Discord sends them (17-20 digits: validate.ts refuses anything else): sf('5') = 1100000000000000005.
const sf = (n: string): string => String(1_100_000_000_000_000_000n + BigInt(n));
const page = (ids: string[]): Reply => ({ status: 200, headers: json, body: JSON.stringify(ids.map((id) => ({ id: sf(id) }))) });
const HISTORY = '/channels/111111/messages' as const;

// A server answering history requests from a script (then empty pages), and anything else with {}.
async function serve(t: Test, script: Reply[]): Promise<{ api: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    seen.push({ url: req.url ?? '', at: Date.now(), headers: req.headers });
    const reply = req.url?.includes('/messages') ? (script.shift() ?? page([])) : { status: 200, headers: json, body: '{}' };
    res.writeHead(reply.status, reply.headers ?? {});
    res.end(reply.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { api: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v10`, seen };
}

function client(t: Test, api: string, options: Partial<ConstructorParameters<typeof DiscordClient>[0]> = {}): DiscordClient {
  const c = new DiscordClient({ token: 'secret-token', api, backoffMs: 5, ...options });
  t.teardown(() => c.close());
  return c;
}

t.test('a page is fetched with the query, the bot token and a Discord User-Agent', async (t) => {
  const { api, seen } = await serve(t, [page(['5', '4'])]);
  const result = await client(t, api).get<Array<{ id: string }>>(HISTORY, { query: { after: '3', limit: '100', before: undefined } });
  t.same(result, [{ id: sf('5') }, { id: sf('4') }]);
  t.equal(seen[0]?.url, '/api/v10/channels/111111/messages?after=3&limit=100');
  t.equal(seen[0]?.headers.authorization, 'Bot secret-token');
  t.match(seen[0]?.headers['user-agent'] ?? '', /^DiscordBot \(.+\) discord-photo-scraper\//);
  const user = await serve(t, [page(['1'])]);
  await client(t, user.api, { tokenType: 'user' }).get(HISTORY);
  t.equal(user.seen[0]?.headers.authorization, 'secret-token', 'a user token is sent as it is');
});

t.test('a 429 is waited out for the exact retry_after of its body, then retried', async (t) => {
  const limited: Reply = {
    status: 429,
    headers: {
      ...json,
      'retry-after': '1',
      'x-ratelimit-scope': 'user',
      'x-ratelimit-limit': '5', // no X-RateLimit-Remaining: 0, whose reset REST would count on the real clock
    },
    body: JSON.stringify({ message: 'You are being rate limited.', retry_after: 0.08, global: false }),
  };
  const { api, seen } = await serve(t, [limited, page(['7'])]);
  const clock = new SkipClock();
  const start = clock.now();
  const c = client(t, api, { clock });
  t.same(await c.get(HISTORY), [{ id: sf('7') }]);
  t.equal(seen.length, 2, 'one retry');
  const waited = clock.now() - start;
  t.equal(waited, 80, "waited the body's 80 ms, not the header's 1 s");
  t.same(clock.slept, [80], 'one wait, on the injected clock');
  t.equal(c.stats.rateLimited, 1);
  t.equal(c.stats.invalid, 1, 'a user-scope 429 counts as invalid');
  t.ok(c.intervalOf(HISTORY) > 0, 'the pacer learnt the bucket');
});

t.test('a global 429 on history holds the other requests too', async (t) => {
  const global: Reply = {
    status: 429,
    headers: { ...json, 'retry-after': '1', 'x-ratelimit-global': 'true', 'x-ratelimit-scope': 'global' },
    body: JSON.stringify({ message: 'You are being rate limited.', retry_after: 0.2, global: true }),
  };
  const { api, seen } = await serve(t, [global, page(['9'])]);
  const clock = new ManualClock();
  const c = client(t, api, { clock });
  const history = c.get(HISTORY);
  while (c.stats.rateLimited === 0) await settle(); // the 429 has been answered
  const other = c.get('/users/@me');
  await settle();
  t.equal(seen.length, 1, 'nothing is sent while the global 429 lasts');
  await clock.advance(199);
  t.equal(seen.length, 1, 'not even 1 ms before its end');
  await clock.advance(1);
  await Promise.all([other, history]);
  t.same(seen.map((s) => s.url.replace(/^\/api\/v10/, '')).sort(), [HISTORY, HISTORY, '/users/@me'].sort(), 'both go once it is over');
  t.equal(c.stats.invalid, 1);
});

t.test('a 429 without Retry-After (a Cloudflare ban) stops after one request', async (t) => {
  const { api, seen } = await serve(t, [{ status: 429, headers: { 'content-type': 'text/plain' }, body: 'error code: 1015' }]);
  await t.rejects(client(t, api).get(HISTORY, { what: 'channel #art' }), { code: 'DPS_RATE_LIMIT_BUDGET', message: /channel #art.*Cloudflare/ });
  t.equal(seen.length, 1, 'never retried');
});

t.test('a 429 over the invalid-request budget stops instead of waiting', async (t) => {
  const limited: Reply = { status: 429, headers: { ...json, 'retry-after': '1' }, body: JSON.stringify({ retry_after: 0.01 }) };
  const { api, seen } = await serve(t, [limited, limited, limited]);
  await t.rejects(client(t, api, { invalidBudget: 2 }).get(HISTORY), { code: 'DPS_RATE_LIMIT_BUDGET' });
  t.equal(seen.length, 2, 'stopped at the budget');
});

t.test('5xx and network faults are retried with backoff; 4xx become our errors', async (t) => {
  const { api, seen } = await serve(t, [
    { status: 502, headers: { 'content-type': 'text/html' }, body: '<html>bad gateway</html>' },
    { status: 500, headers: json, body: '{}' },
    page(['3']),
  ]);
  const c = client(t, api);
  t.same(await c.get(HISTORY), [{ id: sf('3') }]);
  t.equal(seen.length, 3);
  t.equal(c.stats.retried, 2);

  const forbidden = await serve(t, [{ status: 403, headers: json, body: JSON.stringify({ message: 'Missing Access', code: 50001 }) }]);
  await t.rejects(client(t, forbidden.api).get(HISTORY, { what: 'channel #secret' }), {
    code: 'DPS_ACCESS',
    message: 'no access to channel #secret: Missing Access (403, code 50001)',
  });
  t.equal(forbidden.seen.length, 1, 'a 403 is never retried');

  const html = await serve(t, [{ status: 404, headers: { 'content-type': 'text/html' }, body: '<html>nope</html>' }]);
  await t.rejects(client(t, html.api).get(HISTORY), { code: 'DPS_NOT_FOUND', message: /not found: Not Found \(404\)/ });

  const gone = await serve(
    t,
    Array.from({ length: 3 }, () => ({ status: 503, headers: json, body: '{}' })),
  );
  await t.rejects(client(t, gone.api, { retries: 2 }).get(HISTORY), { message: /failed after 3 attempts/ });
});

t.test('a body that is not a JSON page of messages is an invalid response: retried, then an error, never a page', async (t) => {
  const text: Reply = { status: 200, headers: { 'content-type': 'text/html' }, body: '<html>hello</html>' };
  const retried = await serve(t, [text, page(['3'])]);
  t.same(await client(t, retried.api).get(HISTORY), [{ id: sf('3') }], 'retried like a 5xx');
  const { api, seen } = await serve(t, [text, text, text]);
  await t.rejects(client(t, api, { retries: 2 }).get(HISTORY), {
    code: 'DPS_API',
    message: /failed after 3 attempts: invalid response.*text\/html.*instead of JSON/,
  });
  t.equal(seen.length, 3, 'bounded');
});

t.test('aborted before start: nothing is sent; aborted mid-flight: DPS_ABORTED', async (t) => {
  const server = await startHangingServer();
  const c = client(t, `${server.url}/api/v10`);
  t.teardown(() => server.close());
  const before = new AbortController();
  before.abort(new Error('before'));
  await t.rejects(c.get(HISTORY, { signal: before.signal }), { message: 'before' });
  await t.rejects(c.get('/users/@me', { signal: before.signal }), { message: 'before' });
  t.equal(server.received, 0, 'nothing sent');
  for (const route of [HISTORY, '/users/@me'] as const) {
    const midway = new AbortController();
    const request = c.get(route, { signal: midway.signal });
    await requestsSeen(server, server.received + 1);
    midway.abort(new Error('stop'));
    await t.rejects(request, { code: 'DPS_ABORTED' }, route);
  }
});

t.test('4xx errors carry their status and cause; a 5xx given up on its status', async (t) => {
  const forbidden = await serve(t, [{ status: 403, headers: json, body: JSON.stringify({ message: 'Missing Access', code: 50001 }) }]);
  const error = (await client(t, forbidden.api)
    .get(HISTORY)
    .catch((e: unknown) => e)) as DpsError;
  t.ok(isDpsError(error));
  t.match(error, { code: 'DPS_ACCESS', status: 403, cause: { status: 403, code: 50001 } });
  const gone = await serve(t, [{ status: 503, headers: json, body: '{}' }]);
  t.match(
    await client(t, gone.api, { retries: 0 })
      .get(HISTORY)
      .catch((e: unknown) => e),
    { code: 'DPS_API', status: 503, message: /failed after 1 attempts/ },
  );
});
