import t from 'tap';
import { Pacer, routeKey } from '../../lib/discord/pacer.js';

const headers = (h: Record<string, string>) => ({ get: (name: string) => h[name.toLowerCase()] ?? null });

t.test('route keys keep the major id and collapse the rest', async (t) => {
  t.equal(routeKey('/channels/123456789/messages'), '/channels/123456789/messages');
  t.equal(routeKey('/channels/123456789/messages/987654321?x=1'), '/channels/123456789/messages/:id');
});

t.test('a 429 teaches the real pace of its bucket, for every channel', async (t) => {
  const pacer = new Pacer();
  t.equal(pacer.intervalOf('/channels/11111/messages'), 0);
  pacer.onRateLimited('/channels/11111/messages', '', headers({ 'x-ratelimit-limit': '5', 'x-ratelimit-reset-after': '4.9', 'retry-after': '5' }));
  const interval = pacer.intervalOf('/channels/11111/messages');
  t.ok(interval >= 980 && interval <= 1200, `learnt ${interval} ms`);
  // Discord's bucket (X-RateLimit-Bucket) is the route without its major id: the same hidden limit applies to
  // every channel, so one channel's 429 spares the others theirs (40 channels must not cost 40 429s).
  t.equal(pacer.intervalOf('/channels/22222/messages'), interval, 'other channels share the learnt limit');
  t.equal(pacer.intervalOf('/channels/11111/messages/33333'), 0, 'other routes are independent');
  pacer.onRateLimited('/guilds/44444/channels', '', headers({ 'x-ratelimit-global': 'true', 'retry-after': '1' }));
  t.equal(pacer.intervalOf('/guilds/44444/channels'), 0, 'global limits are handled by the REST client');
});

t.test('after a 429, each channel keeps at most `limit` starts in any window', async (t) => {
  const pacer = new Pacer();
  const now = Date.now();
  for (let i = 0; i < 6; i++) await pacer.wait('/channels/55555/messages');
  pacer.onRateLimited('/channels/55555/messages', '', headers({ 'x-ratelimit-limit': '5', 'x-ratelimit-reset-after': '0.2', 'retry-after': '1' }));
  t.ok(pacer.intervalOf('/channels/55555/messages') >= 40, 'window learnt from our own start times and reset-after');
  // Another channel starts fresh: 5 at once, then the 6th waits for the window.
  for (let i = 0; i < 5; i++) await pacer.wait('/channels/66666/messages');
  t.ok(Date.now() - now < 150, 'a burst of `limit` requests is not delayed');
  const sixth = Date.now();
  await pacer.wait('/channels/66666/messages');
  t.ok(Date.now() - sixth >= 150, `the 6th waits for the window (${Date.now() - sixth} ms)`);
});

t.test('polite mode spaces requests from the start; waits are abortable', async (t) => {
  const pacer = new Pacer({ polite: true, politeIntervalMs: 50 });
  const started = Date.now();
  await pacer.wait('/channels/33333/messages');
  await pacer.wait('/channels/33333/messages');
  t.ok(Date.now() - started >= 45);
  const controller = new AbortController();
  const waiting = pacer.wait('/channels/33333/messages', controller.signal);
  controller.abort();
  await t.rejects(waiting);
});
