// lib/discord/download.ts: contentTypeMismatch (an image attachment answered with HTML, JSON or text is refused),
// isExpired, and openDownload's answers and typed failures.

import t from 'tap';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIMessage } from 'discord-api-types/v10';
import { startFakeDiscord } from '../../fixtures/fake-discord.js';
import { requestsSeen, startHangingServer } from '../../fixtures/hanging-server.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { singleChannel } from '../../fixtures/scenarios.js';
import { DiscordClient } from '../../lib/discord/client.js';
import { contentTypeMismatch, createDownloadAgent, isExpired, openDownload } from '../../lib/discord/download.js';
import { mediaOf } from '../../lib/discord/media.js';
import { isDpsError } from '../../lib/errors.js';
import type { DownloadError } from '../../lib/errors.js';

t.test('HTML, JSON or text for an image is a content_type_mismatch; images and unknown types pass', async (t) => {
  const png = { content_type: 'image/png', filename: 'a.png' };
  for (const got of ['text/html; charset=utf-8', 'application/json', 'text/plain', 'application/problem+json', 'application/xhtml+xml', 'text/xml']) {
    const error = contentTypeMismatch(png, got);
    t.equal((error as { reason?: string } | undefined)?.reason, 'content_type_mismatch', got);
    t.equal(error?.retryable, false, `${got}: not retried in this run`);
  }
  for (const got of [undefined, 'image/png', 'image/jpeg', 'application/octet-stream', 'binary/octet-stream', 'image/svg+xml'])
    t.equal(contentTypeMismatch(png, got), undefined, String(got));
  t.ok(contentTypeMismatch({ content_type: undefined, filename: 'photo.JPG' }, 'text/html'), 'no declared type: judged by the extension');
  t.equal(contentTypeMismatch({ content_type: undefined, filename: 'notes.txt' }, 'text/plain'), undefined, 'not an image: not judged');
  t.equal(contentTypeMismatch({ content_type: 'application/pdf', filename: 'a.pdf' }, 'text/html'), undefined, 'only images are judged');
  t.equal(contentTypeMismatch({ content_type: 'image/svg+xml', filename: 'a.svg' }, 'text/xml'), undefined, 'an SVG may come as XML');
  t.ok(contentTypeMismatch({ content_type: 'image/svg+xml', filename: 'a.svg' }, 'text/html'), 'but not as HTML');
});

// openDownload against the fake CDN (links signed by a clock the test moves), a redirect loop and a server that
// never answers: each failure carries its typed reason and status from where it is detected.
t.test('openDownload: a signed link, an expired one, a refused host, a redirect loop, a 5xx', async (t) => {
  const clock = new ManualClock(Date.now());
  const fake = await startFakeDiscord({
    scenario: singleChannel({ seed: 41, messages: 10, imageRatio: 1, sizes: [500, 2_000] }),
    linkLifetimeSec: 60,
    linkClock: () => clock.now(),
  });
  const agent = createDownloadAgent(4, 10_000);
  t.teardown(async () => {
    await agent.close();
    await fake.close();
  });
  const client = new DiscordClient({ token: fake.token, api: fake.api });
  t.teardown(() => client.close());
  const channelId = fake.scenario.guilds[0]!.channels[0]!.id;
  const file = (await client.get<APIMessage[]>(`/channels/${channelId}/messages`, { query: { limit: '10' } })).flatMap((m) => mediaOf(m))[0]!;
  const allowedOrigins = [new URL(fake.url).origin];

  const opened = await openDownload(file.url, { agent, allowedOrigins });
  const chunks: Uint8Array[] = [];
  for await (const chunk of opened.body) chunks.push(chunk);
  const bytes = Buffer.concat(chunks);
  t.same(bytes, fake.attachmentBytes(file.id), 'the bytes of the file');
  t.equal(opened.contentLength, bytes.length);

  t.notOk(isExpired(file.url, clock.now()));
  await clock.advance(61_000);
  t.ok(isExpired(file.url, clock.now()), 'expired by the injected time');
  t.ok(isExpired(file.url, clock.now() - 61_000, 120_000), 'or within the margin');
  const expired = (await openDownload(file.url, { agent, allowedOrigins }).catch((e: unknown) => e)) as DownloadError;
  t.match(expired, { code: 'DPS_DOWNLOAD', reason: 'http_404', status: 404, expired: true, retryable: false });
  t.ok(isDpsError(expired));

  const refused = (await openDownload('https://evil.example/a.png', { agent }).catch((e: unknown) => e)) as DownloadError;
  t.match(refused, { reason: 'refused_host', status: undefined, retryable: false, message: /refusing to download from https:\/\/evil\.example/ });

  const loop = createServer((req, res) => {
    if (req.url === '/busy.png') res.writeHead(503, { 'retry-after': '2' });
    else res.writeHead(302, { location: req.url ?? '/' });
    res.end();
  });
  await new Promise<void>((resolve) => loop.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => loop.close(() => resolve())));
  const loopOrigin = `http://127.0.0.1:${(loop.address() as AddressInfo).port}`;
  const redirects = (await openDownload(`${loopOrigin}/a.png`, { agent, allowedOrigins: [loopOrigin] }).catch((e: unknown) => e)) as DownloadError;
  t.match(redirects, { reason: 'too_many_redirects', retryable: false });
  const unavailable = (await openDownload(`${loopOrigin}/busy.png`, { agent, allowedOrigins: [loopOrigin] }).catch((e: unknown) => e)) as DownloadError;
  t.match(unavailable, { reason: 'http_503', status: 503, retryAfterMs: 2_000, retryable: true, expired: false });
});

t.test('openDownload aborted before start sends nothing; aborted mid-flight rejects', async (t) => {
  const server = await startHangingServer();
  const agent = createDownloadAgent(4, 10_000);
  t.teardown(async () => {
    await agent.close();
    await server.close();
  });
  const controller = new AbortController();
  controller.abort(new Error('before'));
  await t.rejects(openDownload(`${server.url}/a.png`, { agent, allowedOrigins: [server.url], signal: controller.signal }));
  t.equal(server.received, 0, 'nothing sent');
  const midway = new AbortController();
  const download = openDownload(`${server.url}/a.png`, { agent, allowedOrigins: [server.url], signal: midway.signal });
  await requestsSeen(server);
  midway.abort(new Error('stop'));
  await t.rejects(download);
});
