// A CDN that drips one byte a second (a slow-loris proxy, a throttled link) is never "stalled": the stall watch
// (nothing received for 2 s) and --timeout (no data for 60 s) both see bytes arriving, so after Ctrl-C the run
// waits for the whole body (a 2 KB file: ~33 min here; a 10 MB one: months). Required (issue 20 item 17):
// SIGINT exits promptly, with no temp file and nothing announced for the cancelled transfer.

import t from 'tap';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { listFiles } from '../helpers/harness.js';
import { startCli } from './helpers.js';

const G = '100000000000000001';
const C = '100000000000000002';
const M = '1200000000000000000';
const BOT = '100000000000000009';
const SIZE = 2_000;

// Waiting for the whole body (~33 min) would hang the test: the per-test timeout is the guard, no clock is read.
t.test('SIGINT during a download that drips a byte a second ends promptly', { timeout: 300_000 }, async (t) => {
  // Resolves once the second byte is sent: the transfer is under way, and has never been idle for the stall grace.
  let dripping!: () => void;
  const started = new Promise<void>((resolve) => (dripping = resolve));
  const timers = new Set<NodeJS.Timeout>();
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname.replace(/^\/api\/v10/, '');
    const json = (body: unknown) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    if (path.startsWith('/attachments/')) {
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': SIZE });
      let sent = 0;
      const timer = setInterval(() => {
        if (sent >= SIZE || res.destroyed) return clearInterval(timer);
        res.write(Buffer.from([sent === 0 ? 0x89 : 0]));
        sent++;
        if (sent === 2) dripping();
      }, 1_000);
      timers.add(timer);
      return;
    }
    if (path === '/users/@me') return json({ id: BOT, username: 'bot', bot: true });
    if (path === `/guilds/${G}`) return json({ id: G, name: 'srv', owner_id: BOT, roles: [{ id: G, permissions: '8', position: 0 }] });
    if (path === `/guilds/${G}/members/${BOT}`) return json({ user: { id: BOT }, roles: [] });
    if (path === `/guilds/${G}/channels`) return json([{ id: C, type: 0, guild_id: G, name: 'general', permission_overwrites: [] }]);
    if (path === `/guilds/${G}/threads/active`) return json({ threads: [], members: [] });
    if (path.includes('/threads/archived')) return json({ threads: [], has_more: false });
    if (path === `/channels/${C}/messages`) {
      const after = new URL(req.url ?? '/', 'http://x').searchParams.get('after');
      if (after !== null && BigInt(after) >= BigInt(M)) return json([]);
      return json([
        {
          id: M,
          channel_id: C,
          type: 0,
          content: '',
          timestamp: '2026-01-01T00:00:00.000Z',
          author: { id: BOT, username: 'u' },
          attachments: [
            {
              id: '1200000000000000001',
              filename: 'a.png',
              size: SIZE,
              content_type: 'image/png',
              url: `${base}/attachments/${C}/1/a.png`,
              proxy_url: `${base}/attachments/${C}/1/a.png`,
            },
          ],
        },
      ]);
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"message":"Unknown","code":0}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const timer of timers) clearInterval(timer);
    server.closeAllConnections();
    server.close();
  });
  const api = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v10`;
  const dir = t.testdir();
  const out = join(dir, 'out');
  const run = startCli(['--server-id', G, '--channel-id', C, '--out', out, '--state', join(dir, 'state'), '--no-progress'], {
    env: { DISCORD_TOKEN: 'MTIz.abcdef.drip-test-token', DISCORD_API_URL: api },
  });
  t.teardown(() => void run.child.kill('SIGKILL'));
  await started;
  run.child.kill('SIGINT');
  const done = await run.done;
  t.equal(done.code, 130, 'exit 130');
  t.same(
    (await listFiles(out)).filter((f) => f.endsWith('.dps-tmp')),
    [],
    'no temp files',
  );
});
