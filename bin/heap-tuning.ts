// V8's heap policy for a run. A run parses hundreds of megabytes of short-lived JSON pages; left to its defaults
// V8 lets the old generation grow to several times the live heap, so RSS would follow the run's length instead of
// its working set. So it grows by only 25% between full collections (bench/RESULTS.md, "Memory"). But V8 also
// counts the buffers that sockets allocate for every received chunk (memory outside its heap) against that same
// limit: a run that downloads hundreds of MB/s then triggers a full collection every few megabytes, with helper
// threads busy marking a heap that holds none of those bytes, and runs measurably longer (bench/limits.md,
// "Heap tuning"). So while bytes arrive fast the heap grows by V8's own policy, and by 25% again once they slow
// down. V8 reads the flag at every collection, so it can be set after start-up and changed during the run.
// The young generation is capped the same way: V8 doubles it (up to 2 x 16 MB) whenever enough has survived
// since its last growth, which a long run always reaches, and reads the growth factor when it grows; so once it
// reaches YOUNG_CAP_BYTES the factor is set to 1 (no growth) and back to 2 if V8 ever shrinks it below.

import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import type { Counts } from '../lib/index.js';

const EVERY_MS = 500;
const FAST_BYTES_PER_SECOND = 48e6; // above this, downloads dominate what V8 allocates
const SLOW_BYTES_PER_SECOND = 24e6; // below this (hysteresis), back to the tight policy
const TIGHT_GROWTH = 25;
const DOWNLOAD_GROWTH = 0; // V8's own policy (it grows the heap by up to 4x, by how fast it collects)
// Both semi-spaces (V8's default cap is 2 x 16 MB). A smaller cap saves a little RSS but, with history walked
// from both ends, costs far more frequent scavenges and more CPU on two cores (bench/limits.md, "Heap tuning").
const YOUNG_CAP_BYTES = 16 * 1024 * 1024;

// Sets the tight policy unless the user gave V8 heap flags (on the command line or in NODE_OPTIONS), which win;
// returns whether the run may tune the heap (tuneHeapGrowth).
export function startHeapPolicy(execArgv: readonly string[], nodeOptions = ''): boolean {
  const given = [...execArgv, ...nodeOptions.split(/\s+/)].join(' ');
  if (/semi-space|heap-growing|optimize-for-size/.test(given)) return false;
  setFlagsFromString(`--heap-growing-percent=${TIGHT_GROWTH}`);
  capYoungGeneration(YOUNG_CAP_BYTES);
  return true;
}

// Keeps V8's young generation at or below `capBytes` (see above) until the returned function is called. Every
// new isolate (a worker thread) resets a growth factor below 2 to 2, so it is set again after every collection.
export function capYoungGeneration(capBytes: number, setFlags: (flags: string) => void = setFlagsFromString): () => void {
  let capped = false;
  const check = (): void => {
    const size = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
    if (size < capBytes && !capped) return;
    capped = size >= capBytes;
    setFlags(`--semi-space-growth-factor=${capped ? 1 : 2}`);
  };
  check();
  const observer = new PerformanceObserver(check);
  observer.observe({ entryTypes: ['gc'] });
  return () => observer.disconnect();
}

export interface HeapTuningOptions {
  everyMs?: number;
  setFlags?: (flags: string) => void; // v8.setFlagsFromString; tests pass a recorder
}

// Watches the run's downloaded bytes and sets the heap's growth to match; returns the function that stops it.
export function tuneHeapGrowth(totals: () => Counts, options: HeapTuningOptions = {}): () => void {
  const setFlags = options.setFlags ?? setFlagsFromString;
  let growth = TIGHT_GROWTH;
  let last = totals().bytes;
  let lastAt = performance.now();
  const timer = setInterval(() => {
    const bytes = totals().bytes;
    const now = performance.now();
    const rate = ((bytes - last) / (now - lastAt)) * 1000;
    last = bytes;
    lastAt = now;
    const next = rate >= FAST_BYTES_PER_SECOND ? DOWNLOAD_GROWTH : rate < SLOW_BYTES_PER_SECOND ? TIGHT_GROWTH : growth;
    if (next === growth) return;
    growth = next;
    setFlags(`--heap-growing-percent=${growth}`);
  }, options.everyMs ?? EVERY_MS);
  timer.unref();
  return () => {
    clearInterval(timer);
    if (growth !== TIGHT_GROWTH) setFlags(`--heap-growing-percent=${TIGHT_GROWTH}`);
  };
}

// dps gallery (issue 25): each thumbnail's pixels pass through JavaScript as a buffer (memory outside V8's heap,
// counted against the same limit), so the tight policy would answer with a full collection every few megabytes
// (bench/limits.md, "Gallery thumbnails"): V8's own policy for that command, unless the user gave heap flags.
export function relaxHeapGrowth(setFlags: (flags: string) => void = setFlagsFromString): void {
  setFlags(`--heap-growing-percent=${DOWNLOAD_GROWTH}`);
}
