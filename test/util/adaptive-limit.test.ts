// The adaptive limit (lib/util/adaptive-limit.ts), driven by a model of a CDN on a clock the test moves: it grows
// by steps of 1.5x while throughput rises with it (latency-bound downloads), undoes a step that did not pay and
// tries again later, does not grow while downloads are not waiting for slots, halves on congestion at most once
// per window (never below 1) and stays under the level congestion happened at until it is forgotten; a few large
// files in one window do not pass for a gain.
import t from 'tap';
import { AdaptiveLimit } from '../../lib/util/adaptive-limit.js';

// Time in ms, moved by drive().
function controller(over: Partial<ConstructorParameters<typeof AdaptiveLimit>[0]> = {}): { limit: AdaptiveLimit; clock: { t: number } } {
  const clock = { t: 1_000 };
  return { limit: new AdaptiveLimit({ initial: 8, max: 64, now: () => clock.t, ...over }), clock };
}

interface Drive {
  completionsPerSecond: (limit: number) => number; // the CDN's answer to a limit
  bytes?: (n: number) => number; // the n-th completion's size [100 KB]
  busy?: boolean; // downloads were waiting for slots [true]
  onStep?: (limit: number) => void;
}

// Feeds `ms` of completions, 5 ms at a time, at the model's rate for the limit of the moment.
function drive(limit: AdaptiveLimit, clock: { t: number }, ms: number, model: Drive): void {
  let carry = 0;
  let n = 0;
  for (let elapsed = 0; elapsed < ms; elapsed += 5) {
    clock.t += 5;
    carry += (model.completionsPerSecond(limit.limit) * 5) / 1000;
    while (carry >= 1) {
      carry--;
      const before = limit.limit;
      limit.transferred(model.bytes?.(n++) ?? 100_000, model.busy ?? true);
      if (limit.limit !== before) model.onStep?.(limit.limit);
    }
  }
}

// Each download takes 70 ms whatever the number in flight: throughput is proportional to the limit.
const latencyBound = (limit: number): number => limit / 0.07;

t.test('latency-bound downloads: 1.5x steps while throughput rises, up to the cap, within two seconds', async (t) => {
  const { limit, clock } = controller();
  const steps: number[] = [limit.limit];
  t.equal(limit.settled, false, 'about to climb');
  drive(limit, clock, 1_000, { completionsPerSecond: latencyBound, onStep: (l) => steps.push(l) });
  t.equal(limit.settled, false, 'still climbing');
  drive(limit, clock, 1_000, { completionsPerSecond: latencyBound, onStep: (l) => steps.push(l) });
  t.same(steps, [8, 12, 18, 27, 41, 62, 64]);
  drive(limit, clock, 300, { completionsPerSecond: latencyBound });
  t.equal(limit.settled, true, 'at the cap: settled');
  drive(limit, clock, 5_000, { completionsPerSecond: latencyBound, onStep: (l) => steps.push(l) });
  t.equal(limit.limit, 64, 'never above the cap');
});

t.test('a step that did not raise throughput by 10% is undone, and tried again after a while', async (t) => {
  const { limit, clock } = controller();
  const steps: number[] = [];
  // The CDN gives no more than 16 downloads' worth, however many run.
  const model = { completionsPerSecond: (l: number) => Math.min(l, 16) / 0.07, onStep: (l: number) => steps.push(l) };
  drive(limit, clock, 1_500, model);
  t.same(steps, [12, 18, 27, 18], '27 did no better than 18: back to 18');
  t.equal(limit.settled, true, 'held: settled');
  const before = steps.length;
  drive(limit, clock, 1_200, model);
  t.same(steps.slice(before, before + 2), [27, 18], 'a later probe, undone again');
  t.ok(Math.max(...steps) <= 27, 'never grew past the first level that did not pay');
});

t.test('no growth while downloads do not wait for slots (the work coming in sets the pace)', async (t) => {
  const { limit, clock } = controller();
  drive(limit, clock, 3_000, { completionsPerSecond: latencyBound, busy: false });
  t.equal(limit.limit, 8);
});

t.test('congestion halves at most once per window, never below 1, and growth stays under where it happened', async (t) => {
  const { limit, clock } = controller({ forgetMs: 10_000 });
  drive(limit, clock, 800, { completionsPerSecond: latencyBound });
  t.equal(limit.limit, 27);
  t.equal(limit.congested(), true);
  t.equal(limit.limit, 13, 'halved');
  t.equal(limit.settled, true, 'congested: settled');
  t.equal(limit.congestedAt, 27, 'remembered');
  clock.t += 100;
  t.equal(limit.congested(), false, 'the same congestion, seen by another download');
  t.equal(limit.limit, 13);
  const steps: number[] = [];
  drive(limit, clock, 5_000, { completionsPerSecond: latencyBound, onStep: (l) => steps.push(l) });
  t.same(steps, [20, 23], 'grows back, to an eighth below the level of the congestion (27 - 4)');
  for (let i = 0; i < 8; i++) {
    clock.t += 300;
    limit.congested();
  }
  t.equal(limit.limit, 1, 'never below 1');
  t.equal(limit.congestedAt, 1);
});

t.test('the level of a congestion is forgotten after forgetMs without another', async (t) => {
  const { limit, clock } = controller({ forgetMs: 3_000 });
  drive(limit, clock, 500, { completionsPerSecond: latencyBound });
  const at = limit.limit;
  limit.congested();
  drive(limit, clock, 2_000, { completionsPerSecond: latencyBound });
  t.ok(limit.limit < at, 'held below it meanwhile');
  drive(limit, clock, 4_000, { completionsPerSecond: latencyBound });
  t.equal(limit.congestedAt, undefined);
  t.equal(limit.limit, 64, 'grows past it once forgotten');
});

t.test('a few large files in one window do not pass for a gain', async (t) => {
  const { limit, clock } = controller();
  const steps: number[] = [];
  // Throughput does not depend on the limit, but every 97th file is 50 MB: a window holding one of them would
  // look several times faster than one holding none, were each file counted in full.
  const model = {
    completionsPerSecond: () => 200,
    bytes: (n: number) => (n % 97 === 96 ? 50_000_000 : 100_000),
    onStep: (l: number) => steps.push(l),
  };
  drive(limit, clock, 3_000, model);
  t.ok(Math.max(...steps) <= 12, `stayed near the start (steps ${steps.join(' ')})`);
});

t.test('a window without the large files of the one before still shows the gain of a step', async (t) => {
  const { limit, clock } = controller();
  const steps: number[] = [];
  // Latency-bound, and every 97th file is 50 MB: windows differ in bytes mostly by whether they hold one.
  const model = { completionsPerSecond: latencyBound, bytes: (n: number) => (n % 97 === 96 ? 50_000_000 : 100_000), onStep: (l: number) => steps.push(l) };
  drive(limit, clock, 2_500, model);
  t.ok(limit.limit >= 62, `reached the cap's level (steps ${steps.join(' ')})`);
});

t.test('the first completion only starts the clock; the limit starts within [1, max]', async (t) => {
  t.equal(new AdaptiveLimit({ initial: 8, max: 4, now: () => 0 }).limit, 4);
  t.equal(new AdaptiveLimit({ initial: 0, max: 4, now: () => 0 }).limit, 1);
  t.throws(() => new AdaptiveLimit({ initial: 8, max: 0, now: () => 0 }), RangeError);
  const { limit, clock } = controller({ initial: 1, minSamples: 1, windowMs: 10 });
  clock.t += 1_000_000; // long idle before the first download
  limit.transferred(1, true);
  t.equal(limit.limit, 1, 'no window yet');
  clock.t += 20;
  limit.transferred(1, true);
  t.equal(limit.limit, 2, 'a window of 20 ms, measured: one step');
});
