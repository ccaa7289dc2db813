// The heap policy of a run (bin/heap-tuning.ts): V8's own growth while downloads arrive fast, 25% otherwise; a capped young generation.
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { capYoungGeneration, startHeapPolicy, tuneHeapGrowth } from '../../bin/heap-tuning.js';
import { relaxHeapGrowth } from '../../bin/heap-tuning.js'; // dps gallery (issue 25)
import { emptyCounts } from '../../lib/output/events.js';

// Totals whose bytes grow at `rate` bytes/s (changed by the test), measured on the same clock as the tuner.
function downloading(): { totals: () => ReturnType<typeof emptyCounts>; setRate: (bytesPerSecond: number) => void } {
  let bytes = 0;
  let rate = 0;
  let at = performance.now();
  const advance = (): void => {
    const now = performance.now();
    bytes += (rate * (now - at)) / 1000;
    at = now;
  };
  return {
    totals: () => {
      advance();
      return { ...emptyCounts(), bytes };
    },
    setRate: (bytesPerSecond) => {
      advance();
      rate = bytesPerSecond;
    },
  };
}

t.test('fast downloads loosen the heap growth, slow ones restore it, rates in between change nothing', async (t) => {
  const flags: string[] = [];
  const run = downloading();
  const stop = tuneHeapGrowth(run.totals, { everyMs: 25, setFlags: (f) => flags.push(f) });
  t.teardown(stop);
  run.setRate(30e6); // between the thresholds: the tight policy stays
  await sleep(150);
  t.same(flags, [], 'no change at 30 MB/s from the tight policy');
  run.setRate(200e6);
  await sleep(150);
  t.same(flags, ['--heap-growing-percent=0'], "V8's own policy at 200 MB/s, set once");
  run.setRate(30e6); // hysteresis: still fast enough to keep it
  await sleep(150);
  t.same(flags, ['--heap-growing-percent=0'], 'kept at 30 MB/s');
  run.setRate(1e6);
  await sleep(150);
  t.same(flags, ['--heap-growing-percent=0', '--heap-growing-percent=25'], 'back to 25% when downloads slow down');
  run.setRate(200e6);
  await sleep(150);
  stop();
  t.same(flags.slice(-2), ['--heap-growing-percent=0', '--heap-growing-percent=25'], 'stopping restores the tight policy');
});

t.test('the tight policy is set at start-up unless the user gave V8 heap flags', async (t) => {
  t.equal(startHeapPolicy(['--max-semi-space-size=4']), false, 'a command-line flag wins');
  t.equal(startHeapPolicy([], '--heap-growing-percent=50'), false, 'NODE_OPTIONS wins');
  t.equal(startHeapPolicy(['--trace-gc'], '--enable-source-maps'), true, 'other flags leave it to dps');
});

t.test('the young generation stops growing at its cap, and the cap is set again after every collection', async (t) => {
  // A cap below any young generation: capped at once, and set again after collections (a new isolate resets it).
  const flags: string[] = [];
  const stop = capYoungGeneration(1, (f) => flags.push(f));
  t.teardown(stop);
  t.same(flags, ['--semi-space-growth-factor=1'], 'capped at start-up');
  let keep: unknown[] = [];
  for (let i = 0; i < 200 && flags.length < 3; i++) {
    keep = Array.from({ length: 20_000 }, (_, j) => ({ j, s: String(j) })); // young-generation garbage
    await sleep(5);
  }
  t.ok(keep.length > 0);
  t.ok(flags.length >= 3, `set again after collections (${flags.length} times)`);
  t.ok(
    flags.every((f) => f === '--semi-space-growth-factor=1'),
    'never lets it grow',
  );
  stop();
  const after = flags.length;
  for (let i = 0; i < 20; i++) {
    keep = Array.from({ length: 20_000 }, (_, j) => ({ j }));
    await sleep(5);
  }
  t.equal(flags.length, after, 'stopping stops it');

  // A cap above any young generation: never set.
  const untouched: string[] = [];
  const stopLarge = capYoungGeneration(1024 * 1024 * 1024, (f) => untouched.push(f));
  for (let i = 0; i < 20; i++) {
    keep = Array.from({ length: 20_000 }, (_, j) => ({ j }));
    await sleep(5);
  }
  stopLarge();
  t.same(untouched, [], 'a young generation below its cap is left alone');
});

// dps gallery (issue 25): thumbnails' pixels are buffers outside the heap; the command runs with V8's own growth.
t.test("dps gallery relaxes the heap growth to V8's own policy", async (t) => {
  const flags: string[] = [];
  relaxHeapGrowth((f) => void flags.push(f));
  t.same(flags, ['--heap-growing-percent=0']);
});
