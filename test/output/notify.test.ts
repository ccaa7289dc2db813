// --notify's sending (lib/output/notify.ts) against a real HTTP receiver on 127.0.0.1: the body, one retry,
// bounded tries, a Discord webhook's message, the URL check, and no secret in what is sent.

import t from 'tap';
import type { Test } from 'tap';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { notifyTarget, sendSummary, webhookMessage } from '../../lib/output/notify.js';
import type { SummaryEvent } from '../../lib/output/events.js';

interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

// A receiver answering each request with the next status of `statuses` (the last one repeats); 0: never answers.
async function receiver(t: Test, statuses: number[]): Promise<{ url: string; requests: Received[] }> {
  const requests: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const status = statuses[Math.min(requests.length - 1, statuses.length - 1)]!;
      if (status !== 0) res.writeHead(status).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

const TOKEN = 'MTIzNDU2Nzg5MDEyMzQ1Njc4.AAAAAA.the-bot-token-never-sent-xxxxxxxxxxxxxx';

function summary(fields: Partial<SummaryEvent> = {}): SummaryEvent {
  return {
    event: 'summary',
    channels: 2,
    messages: 40,
    saved: 12,
    duplicates: 1,
    skipped: 3,
    failed: 2,
    bytes: 1_234_567,
    elapsed_ms: 75_000,
    exit_code: 1,
    per_channel: [],
    ...fields,
  };
}

const fast = { timeoutMs: 300, retryDelayMs: 20, secrets: [TOKEN] };

t.test('the URL is checked up front: http(s) only, the value shown', async (t) => {
  t.same(notifyTarget('https://example.com/hook?x=1').discord, false);
  t.same(notifyTarget('http://127.0.0.1:8080/').discord, false);
  for (const url of [
    'https://discord.com/api/webhooks/123456789012345678/abcDEF-123_x',
    'https://discordapp.com/api/webhooks/123456789012345678/tok',
    'https://ptb.discord.com/api/v10/webhooks/123456789012345678/tok',
    'https://canary.discord.com/api/webhooks/123456789012345678/tok/',
  ]) {
    t.equal(notifyTarget(url).discord, true, `a webhook: ${url}`);
  }
  t.equal(notifyTarget('https://discord.com/api/channels/1/messages').discord, false, 'not a webhook path');
  for (const bad of ['ftp://example.com/x', 'nope', 'file:///etc/passwd', '']) {
    t.throws(() => notifyTarget(bad), { code: 'DPS_USAGE', message: `--notify must be an http or https URL, got ${JSON.stringify(bad)}` });
  }
});

t.test('the summary is POSTed as JSON, exactly; no token anywhere', async (t) => {
  const { url, requests } = await receiver(t, [200]);
  const event = summary({ error: `stopped with ${TOKEN} in a message` });
  t.equal(await sendSummary(notifyTarget(`${url}/hook`), event, fast), undefined, 'delivered');
  t.equal(requests.length, 1, 'one request');
  t.equal(requests[0]!.method, 'POST');
  t.equal(requests[0]!.url, '/hook');
  t.equal(requests[0]!.headers['content-type'], 'application/json');
  t.same(JSON.parse(requests[0]!.body), { ...event, error: 'stopped with [REDACTED] in a message' });
  t.notOk(JSON.stringify(requests).includes(TOKEN), 'the token is in no header, path or body');
  t.notOk(requests[0]!.headers.authorization, 'no authorization header');
});

t.test('one retry: 500 then 200 is delivered in two tries', async (t) => {
  const { url, requests } = await receiver(t, [500, 200]);
  t.equal(await sendSummary(notifyTarget(url), summary(), fast), undefined);
  t.equal(requests.length, 2, 'two tries');
  t.equal(requests[1]!.body, requests[0]!.body, 'the same body');
});

t.test('only one retry: 503 twice is reported, after two tries', async (t) => {
  const { url, requests } = await receiver(t, [503]);
  const problem = await sendSummary(notifyTarget(url), summary(), fast);
  t.match(problem, /^could not post the summary to 127\.0\.0\.1:\d+: HTTP 503$/);
  t.equal(requests.length, 2);
});

t.test('a refusal (404) is not retried', async (t) => {
  const { url, requests } = await receiver(t, [404]);
  t.match(await sendSummary(notifyTarget(url), summary(), fast), /HTTP 404/);
  t.equal(requests.length, 1);
});

t.test('a receiver that never answers: each try is bounded', async (t) => {
  const { url, requests } = await receiver(t, [0]);
  t.match(await sendSummary(notifyTarget(url), summary(), fast), /no answer within 300 ms/);
  t.equal(requests.length, 2, 'tried twice');
});

t.test('nothing listening: a network error, never a rejection', async (t) => {
  const { url } = await receiver(t, [200]);
  const dead = `http://127.0.0.1:9/`;
  t.match(await sendSummary(notifyTarget(dead), summary(), fast), /^could not post the summary to 127\.0\.0\.1:9: network error \(ECONNREFUSED\)$/);
  t.ok(url);
});

t.test('a Discord webhook gets a short message with the totals, the webhook secret never printed', async (t) => {
  const { url, requests } = await receiver(t, [500]);
  const target = notifyTarget(`${url}/api/webhooks/123456789012345678/webhook-secret`);
  t.equal(target.discord, true);
  const problem = await sendSummary(target, summary(), { ...fast, server: '584171093229572103' });
  t.notOk(problem?.includes('webhook-secret'), `the problem names the host only: ${problem}`);
  const body = JSON.parse(requests[0]!.body) as { content: string; allowed_mentions: unknown };
  t.same(Object.keys(body).sort(), ['allowed_mentions', 'content']);
  t.same(body.allowed_mentions, { parse: [] }, 'no mention pings');
  t.equal(body.content, 'dps (server 584171093229572103): 12 files saved (1 duplicates), 2 failed, 3 skipped; 1.2 MB in 1 min 15 s over 2 channels; exit 1');
  const long = webhookMessage(summary({ error: 'x'.repeat(5000) }));
  t.equal(long.content.length, 2000, 'cut to what Discord accepts');
});
