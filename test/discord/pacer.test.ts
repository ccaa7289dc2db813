import t from 'tap';
import { Pacer, routeKey } from '../../lib/discord/pacer.js';

const headers = (h: Record<string, string>) => ({ get: (name: string) => h[name.toLowerCase()] ?? null });

t.test('route keys keep the major id and collapse the rest', async (t) => {
  t.equal(routeKey('/channels/123456789/messages'), '/channels/123456789/messages');
  t.equal(routeKey('/channels/123456789/messages/987654321?x=1'), '/channels/123456789/messages/:id');
});

t.test('a 429 teaches the real pace of its route only', async (t) => {
  const pacer = new Pacer();
  t.equal(pacer.intervalOf('/channels/11111/messages'), 0);
  pacer.onRateLimited('/channels/11111/messages', '', headers({ 'x-ratelimit-limit': '5', 'x-ratelimit-reset-after': '4.9', 'retry-after': '5' }));
  const interval = pacer.intervalOf('/channels/11111/messages');
  t.ok(interval >= 980 && interval <= 1200, `learnt ${interval} ms`);
  t.equal(pacer.intervalOf('/channels/22222/messages'), 0, 'other channels are independent');
  pacer.onRateLimited('/channels/22222/messages', '', headers({ 'x-ratelimit-global': 'true', 'retry-after': '1' }));
  t.equal(pacer.intervalOf('/channels/22222/messages'), 0, 'global limits are handled by the REST client');
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
