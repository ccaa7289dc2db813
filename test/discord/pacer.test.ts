import t from 'tap';
import { ManualClock, settle } from '../helpers/manual-clock.js';
import { readRateLimit } from '../../lib/discord/rate-limit-headers.js';
import { Pacer, routeKey } from '../../lib/discord/pacer.js';

const headers = (h: Record<string, string>) => ({ get: (name: string) => h[name.toLowerCase()] ?? null });
const answer = (status: number, h: Record<string, string>) => readRateLimit(status, headers(h));

// One accepted request through the pacer: wait for its slot, answer it, end it.
async function accepted(pacer: Pacer, path: string, signal?: AbortSignal): Promise<void> {
  const done = await pacer.wait(path, signal);
  pacer.onResponse(path, answer(200, {}));
  done(true);
}

t.test('route keys keep the major id and collapse the rest', async (t) => {
  t.equal(routeKey('/channels/123456789/messages'), '/channels/123456789/messages');
  t.equal(routeKey('/channels/123456789/messages/987654321?x=1'), '/channels/123456789/messages/:id');
});

t.test('a 429 teaches the real pace of its bucket, for every channel', async (t) => {
  const pacer = new Pacer();
  t.equal(pacer.intervalOf('/channels/11111/messages'), 0);
  pacer.onRateLimited('/channels/11111/messages', answer(429, { 'x-ratelimit-limit': '5', 'x-ratelimit-reset-after': '4.9', 'retry-after': '5' }));
  const interval = pacer.intervalOf('/channels/11111/messages');
  t.ok(interval >= 980 && interval <= 1200, `learnt ${interval} ms`);
  // Discord's bucket (X-RateLimit-Bucket) is the route without its major id: the same hidden limit applies to
  // every channel, so one channel's 429 spares the others theirs (40 channels must not cost 40 429s).
  t.equal(pacer.intervalOf('/channels/22222/messages'), interval, 'other channels share the learnt limit');
  t.equal(pacer.intervalOf('/channels/11111/messages/33333'), 0, 'other routes are independent');
  pacer.onRateLimited('/guilds/44444/channels', answer(429, { 'x-ratelimit-global': 'true', 'retry-after': '1' }));
  t.equal(pacer.intervalOf('/guilds/44444/channels'), 0, 'a global 429 is left to the global limit (global-limit.ts)');
});

t.test('after a 429, each channel keeps at most `limit` starts in any window', async (t) => {
  const clock = new ManualClock();
  const pacer = new Pacer({ clock });
  const now = clock.now();
  for (let i = 0; i < 5; i++) await accepted(pacer, '/channels/55555/messages');
  const rejected = await pacer.wait('/channels/55555/messages');
  pacer.onRateLimited('/channels/55555/messages', answer(429, { 'x-ratelimit-limit': '5', 'x-ratelimit-reset-after': '0.2', 'retry-after': '1' }));
  rejected();
  t.ok(pacer.intervalOf('/channels/55555/messages') >= 40, 'window learnt from our own start times and reset-after');
  // Another channel starts fresh: 5 at once, then the 6th waits for the window.
  for (let i = 0; i < 5; i++) await accepted(pacer, '/channels/66666/messages');
  t.equal(clock.now(), now, 'a burst of `limit` requests is not delayed');
  let sixthDone = false;
  const sixth = accepted(pacer, '/channels/66666/messages').then(() => (sixthDone = true));
  while (!sixthDone) await clock.advance(10);
  await sixth;
  t.ok(clock.now() - now >= 200, `the 6th waits for the window (${clock.now() - now} ms)`);
});

t.test('the window is measured from when its oldest request was sent, not from when its slow answer came', async (t) => {
  // The server counts a request when it arrives; a slow first answer must not make the window look shorter
  // than the server's (every channel whose first answer was quicker would then be paced into a 429).
  const clock = new ManualClock();
  const pacer = new Pacer({ clock });
  const path = '/channels/12121/messages';
  const windowMs = 1000;
  let windowStart: number | undefined;
  for (let i = 0; i < 5; i++) {
    const done = await pacer.wait(path);
    pacer.sent(path);
    windowStart ??= clock.now();
    await clock.advance(i === 0 ? 300 : 5);
    pacer.onResponse(path, answer(200, {}));
    done(true);
  }
  const rejected = await pacer.wait(path);
  pacer.sent(path);
  await clock.advance(5);
  const resetAfter = ((windowStart! + windowMs - clock.now()) / 1000).toFixed(3);
  pacer.onRateLimited(path, answer(429, { 'x-ratelimit-limit': '5', 'x-ratelimit-reset-after': resetAfter, 'retry-after': resetAfter }));
  rejected(false);
  const learnt = pacer.intervalOf(path) * 5;
  t.ok(learnt >= windowMs - 5, `window learnt as ${learnt} ms (the server's: ${windowMs} ms)`);
  t.ok(learnt < windowMs + 100, 'and not much longer (not measured from the slow first answer)');
});

t.test('polite mode spaces requests from the start; waits are abortable', async (t) => {
  const clock = new ManualClock();
  const pacer = new Pacer({ polite: true, politeIntervalMs: 50, clock });
  const started = clock.now();
  await accepted(pacer, '/channels/33333/messages');
  const second = accepted(pacer, '/channels/33333/messages');
  await clock.advance(50);
  await second;
  t.ok(clock.now() - started >= 50);
  const controller = new AbortController();
  const waiting = pacer.wait('/channels/33333/messages', controller.signal);
  controller.abort();
  await t.rejects(waiting);
});

// A server with a hidden limit per channel (limit per window, headers telling it only in the 429), latency
// per request; `channels` routes of one bucket each make `requests` accepted requests through the pacer.
async function simulate(options: { channels: number; requests: number; limit?: number; windowMs?: number; latencyMs: number }) {
  const clock = new ManualClock();
  const pacer = new Pacer({ clock });
  const log = new Map<string, number[]>();
  let inFlight = 0;
  let maxInFlight = 0;
  let rateLimited = 0;
  const call = async (path: string): Promise<boolean> => {
    const done = await pacer.wait(path);
    let accepted = false;
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    try {
      const now = clock.now();
      const starts = (log.get(path) ?? []).filter((at) => options.windowMs === undefined || at > now - options.windowMs);
      await clock.sleep(options.latencyMs);
      if (options.limit !== undefined && starts.length >= options.limit) {
        rateLimited++;
        const resetAfter = (starts[0]! + options.windowMs! - now) / 1000;
        pacer.onRateLimited(
          path,
          answer(429, { 'x-ratelimit-limit': String(options.limit), 'x-ratelimit-reset-after': resetAfter.toFixed(3), 'retry-after': resetAfter.toFixed(3) }),
        );
        await clock.sleep(resetAfter * 1000);
        return false;
      }
      log.set(path, [...starts, now]);
      pacer.onResponse(path, answer(200, {}));
      accepted = true;
      return true;
    } finally {
      inFlight--;
      done(accepted);
    }
  };
  let finished = false;
  const all = Promise.all(
    Array.from({ length: options.channels }, async (_, channel) => {
      const path = `/channels/${100000 + channel}/messages`;
      for (let ok = 0; ok < options.requests; ) if (await call(path)) ok++;
    }),
  ).finally(() => (finished = true));
  while (!finished) await clock.advance(1);
  await all;
  return { rateLimited, maxInFlight };
}

t.test('channels sharing a bucket with a hidden limit pay a few 429s in all, not one each', async (t) => {
  const { rateLimited } = await simulate({ channels: 20, requests: 8, limit: 3, windowMs: 400, latencyMs: 5 });
  t.ok(rateLimited <= 3, `${rateLimited} requests answered 429 for 20 channels`);
});

t.test('without a hidden limit the probe gate keeps channels running in parallel', async (t) => {
  const { rateLimited, maxInFlight } = await simulate({ channels: 20, requests: 10, latencyMs: 5 });
  t.equal(rateLimited, 0);
  t.ok(maxInFlight >= 10, `${maxInFlight} requests in flight at once`);
});

t.test('an aborted wait behind the probes rejects and a probe is released when its request ends', async (t) => {
  const pacer = new Pacer();
  const probes = [await pacer.wait('/channels/77777/messages'), await pacer.wait('/channels/77777/messages')];
  const controller = new AbortController();
  const behind = pacer.wait('/channels/88888/messages', controller.signal).then(() => undefined);
  // Another route's first request may go only once a first request was accepted; two probes are in flight.
  let secondStarted = false;
  const second = pacer.wait('/channels/99999/messages').then((end) => {
    secondStarted = true;
    return end;
  });
  controller.abort(new Error('stop'));
  await t.rejects(behind, { message: 'stop' });
  await settle();
  t.notOk(secondStarted, 'a third request waits while two probes are in flight');
  probes[0]!(); // ended without a response (e.g. a network error): another route takes the probe
  const next = await second;
  next();
  probes[1]!();
  t.pass('the gate moved on');
});
