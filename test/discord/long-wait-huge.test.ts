// A 429 whose Retry-After is absurd (`1e300`, `Infinity`; a hostile or broken proxy) must be the same clean stop as
// any wait over --max-wait (exit 1, a summary, DPS_RATE_LIMIT's one line). Today `1e300` crashes the run with
// "dps: internal error: Invalid time value" and no summary (new Date(...).toISOString() throws), and a header-only
// `Infinity` is not waited for at all: the request is sent again at once.

import t from 'tap';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { runDps } from '../cli/helpers.js';

const G = '100000000000000001';
const C = '100000000000000002';
const BOT = '100000000000000009';

for (const retryAfter of ['1e300', 'Infinity']) {
  t.test(`Retry-After: ${retryAfter} on the history route is a clean --max-wait stop`, async (t) => {
    let historyRequests = 0;
    const server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname.replace(/^\/api\/v10/, '');
      const json = (body: unknown) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (path === '/users/@me') return json({ id: BOT, username: 'bot', bot: true });
      if (path === `/guilds/${G}`) return json({ id: G, name: 'srv', owner_id: BOT, roles: [{ id: G, permissions: '8', position: 0 }] });
      if (path === `/guilds/${G}/members/${BOT}`) return json({ user: { id: BOT }, roles: [] });
      if (path === `/guilds/${G}/channels`) return json([{ id: C, type: 0, guild_id: G, name: 'general', permission_overwrites: [] }]);
      if (path === `/guilds/${G}/threads/active`) return json({ threads: [], members: [] });
      if (path.includes('/threads/archived')) return json({ threads: [], has_more: false });
      if (path === `/channels/${C}/messages`) {
        historyRequests++;
        res.writeHead(429, { 'retry-after': retryAfter, 'x-ratelimit-scope': 'user' });
        return res.end();
      }
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"message":"Unknown","code":0}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const api = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v10`;
    const dir = t.testdir();
    const run = await runDps(['--server-id', G, '--channel-id', C, '--out', join(dir, 'out'), '--state', join(dir, 'state'), '--no-progress'], {
      env: { DISCORD_TOKEN: 'MTIz.abcdef.huge-wait-token', DISCORD_API_URL: api },
    });
    t.equal(run.code, 1, `exit 1 (stderr: ${run.stderr.trim()})`);
    t.notMatch(run.stderr, /internal error|Invalid time value/, 'no crash');
    t.match(run.stderr, /max-wait/, 'the --max-wait stop is named');
    t.equal(run.lines.at(-1)?.event, 'summary', 'a summary line ends stdout');
    t.equal(historyRequests, 1, 'the rate-limited request is not sent again');
  });
}
