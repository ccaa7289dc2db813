// Link expiry without waiting: the fake signs and checks its CDN links by a ManualClock (its `linkClock`) and
// the run decides expiry by the same clock (ArchiveHooks.clock), which the test moves: on download slots taken,
// through a pool that advances it (AdvancingPool). The run's sleeps (the refresher's batching delay) stay real,
// a few milliseconds: a run waiting on a refresh must not wait for the test to move the clock.

import type { Clock } from '../../lib/discord/clock.js';
import { systemClock } from '../../lib/discord/clock.js';
import { runArchive } from '../../lib/archive.js';
import type { ArchiveHooks, ArchiveOptions, DpsEvent } from '../../lib/index.js';
import { Semaphore } from '../../lib/util/semaphore.js';
import { ManualClock } from './manual-clock.js';
import type { RunOutput } from './harness.js';

// The links' time (moved by the test) and the clock a run reads it from.
export function linkTime(): { time: ManualClock; clock: Clock } {
  const time = new ManualClock(Date.now());
  return { time, clock: { now: () => time.now(), sleep: systemClock.sleep } };
}

// A download pool that moves the clock when a slot is granted, before the download looks at its link:
// `step(n)` is how far (ms) for the n-th slot taken (from 1).
export class AdvancingPool extends Semaphore {
  granted = 0;
  private moving: Promise<void> = Promise.resolve(); // one advance at a time: concurrent ones would overlap

  constructor(
    size: number,
    private readonly time: ManualClock,
    private readonly step: (n: number) => number,
  ) {
    super(size);
  }

  override async acquire(signal?: AbortSignal): Promise<() => void> {
    const release = await super.acquire(signal);
    const ms = this.step(++this.granted);
    if (ms > 0) {
      this.moving = this.moving.then(() => this.time.advance(ms));
      await this.moving;
    }
    return release;
  }
}

// Runs the library in-process with extra hooks (the clock, the pool), collecting events and logs as runLibrary does.
export async function runWithHooks(options: ArchiveOptions, hooks: ArchiveHooks): Promise<RunOutput> {
  const events: DpsEvent[] = [];
  const logs: string[] = [];
  const result = await runArchive(options, {
    emit: (event) => void events.push(JSON.parse(JSON.stringify(event)) as DpsEvent),
    log: (line) => void logs.push(line),
    ...hooks,
  });
  return { result, events, logs };
}
