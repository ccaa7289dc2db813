// A proxy or captive portal in front of the API answers every request `200 text/html` (or a JSON value of the
// wrong shape). Only the history route validates its answers (lib/discord/validate.ts); the REST client's routes
// (users/@me, guilds, channels) are trusted, so `--all-channels` ends "done" with 0 channels and exit 0, and
// `guilds` dies with "internal error: page is not iterable". Required: an invalid response is a retried, then
// reported failure (exit != 0, one line naming it), never an empty, complete run.

import t from 'tap';
import type { Test } from 'tap';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { runDps } from './helpers.js';

const TOKEN = 'MTIzNDU2Nzg5MDEyMzQ1Njc4.abcdef.token-for-the-html-proxy-test';

async function server(t: Test, contentType: string, body: string): Promise<string> {
  const s = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': contentType });
    res.end(body);
  });
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => s.close(() => resolve())));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}/api/v10`;
}

for (const [label, type, body] of [
  ['a 200 text/html page', 'text/html', '<!doctype html><html><body>Sign in to the Wi-Fi</body></html>'],
  ['a 200 JSON object where an array belongs', 'application/json', '{"message":"ok"}'],
] as const) {
  t.test(`every API answer is ${label}: not an empty, complete run`, async (t) => {
    const api = await server(t, type, body);
    const run = await runDps(['--server-id', '100000000000000001', '--all-channels', '--no-progress', '--backoff', '5ms'], {
      env: { DISCORD_TOKEN: TOKEN, DISCORD_API_URL: api },
    });
    t.not(run.code, 0, `exit code ${run.code}, not 0 (stderr: ${run.stderr.trim()})`);
    const summary = run.lines.find((l) => l.event === 'summary');
    t.not(summary?.exit_code, 0, 'the summary does not report success');
    t.notMatch(run.stderr, /internal error/, 'not an internal error');
  });
}

t.test('`dps guilds` against a 200 text/html API: one clear line, not "internal error"', async (t) => {
  const api = await server(t, 'text/html', '<html>login</html>');
  const run = await runDps(['guilds', '--backoff', '5ms'], { env: { DISCORD_TOKEN: TOKEN, DISCORD_API_URL: api } });
  t.not(run.code, 0, 'fails');
  t.notMatch(run.stderr, /internal error|not iterable/, `a named failure, not a crash: ${run.stderr.trim()}`);
});
