// exactRetryAfter: a 429's whole-second Retry-After header is replaced by the body's exact retry_after, so the REST
// client waits 30 ms rather than a second for a window that has 30 ms left; everything else passes unchanged.
import t from 'tap';
import type { Test } from 'tap';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DefaultRestOptions } from '@discordjs/rest';
import { exactRetryAfter } from '../../lib/discord/client.js';

interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

async function serve(t: Test, reply: Reply): Promise<string> {
  const server = createServer((_req, res) => {
    res.writeHead(reply.status, reply.headers);
    res.end(reply.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v10/channels/1/messages`;
}

const init = { method: 'GET' } as Parameters<typeof DefaultRestOptions.makeRequest>[1];
const json = { 'content-type': 'application/json' };

t.test('a 429 with an exact retry_after in its body hands that value on in Retry-After', async (t) => {
  const body = JSON.stringify({ message: 'You are being rate limited.', retry_after: 0.031, global: true });
  const url = await serve(t, { status: 429, headers: { ...json, 'retry-after': '1', 'x-ratelimit-global': 'true', 'x-ratelimit-scope': 'global' }, body });
  const response = await exactRetryAfter(url, init);
  t.equal(response.status, 429);
  t.equal(response.headers.get('retry-after'), '0.031');
  t.equal(response.headers.get('x-ratelimit-scope'), 'global', 'the other headers are kept');
  t.same(JSON.parse(await response.text()), JSON.parse(body), 'the body is still readable');
});

t.test('the header stands when the body cannot improve on it', async (t) => {
  const cases: Array<[string, Reply]> = [
    ['retry_after larger than the header', { status: 429, headers: { ...json, 'retry-after': '2' }, body: '{"retry_after": 2.5}' }],
    ['no retry_after', { status: 429, headers: { ...json, 'retry-after': '3' }, body: '{"message": "slow down"}' }],
    ['a body that is not JSON', { status: 429, headers: { ...json, 'retry-after': '4' }, body: '<html>' }],
    ['an HTML 429 (no JSON content type)', { status: 429, headers: { 'content-type': 'text/html', 'retry-after': '5' }, body: '{"retry_after": 0.5}' }],
  ];
  for (const [name, reply] of cases) {
    const response = await exactRetryAfter(await serve(t, reply), init);
    t.equal(response.headers.get('retry-after'), reply.headers['retry-after'], name);
    t.equal(await response.text(), reply.body, `${name}: body intact`);
  }
});

t.test('a 429 without Retry-After (a Cloudflare ban) and ordinary answers pass unchanged', async (t) => {
  const ban = await exactRetryAfter(await serve(t, { status: 429, headers: { 'content-type': 'text/html' }, body: 'banned' }), init);
  t.equal(ban.headers.get('retry-after'), null);
  t.equal(await ban.text(), 'banned');
  const ok = await exactRetryAfter(await serve(t, { status: 200, headers: { ...json, 'retry-after': '1' }, body: '[]' }), init);
  t.equal(ok.status, 200);
  t.equal(ok.headers.get('retry-after'), '1', 'only a 429 is rewritten');
  t.equal(await ok.text(), '[]');
});
