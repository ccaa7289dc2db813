// How many downloads to run at once, learned from the downloads themselves (`--concurrency auto`): grow while a
// step up raises the throughput (a step that does not is undone, and tried again after a while), halve when the
// CDN says it is congested, and do not climb back to where it did: that level overshot what the CDN allows (its
// refusals come back a round trip later), so growth stays an eighth below it.
// Pure: it decides on each observation, by the clock it is given; it holds no timer.
//
// Throughput is measured over windows that last at least `windowMs` and hold at least max(`minSamples`, limit)
// completed transfers (about one turn of every slot), as files per second and bytes per second: a step pays when
// both rose, since bytes alone swing with the few large files a window happens to hold, and files alone with a
// run of small ones. A window in which the limit was not what held downloads back (most completions found no
// download waiting for a slot) says nothing about the limit: it is a fresh start.

export interface AdaptiveLimitOptions {
  initial: number; // the limit to start at
  max: number; // never above this
  now: () => number; // ms
  windowMs?: number; // a window lasts at least this long; also the least time between two halvings [250]
  minSamples?: number; // a window holds at least this many completions (and at least `limit`) [16]
  growth?: number; // a step up multiplies the limit by this [1.5]
  gain?: number; // a step up is kept growing only when throughput rose by at least this fraction [0.1]
  // Each transfer counts for at most this many bytes: a few large files landing in one window would otherwise
  // swing its throughput more than a step of concurrency does [1 MiB].
  clipBytes?: number;
  probeWindows?: number; // after a step that did not help, this many windows held before trying again [4]
  forgetMs?: number; // how long the level where congestion happened is remembered without another [30 s]
}

// The adaptive limit: read `limit` after each observation.
export class AdaptiveLimit {
  limit: number;
  private readonly o: Required<AdaptiveLimitOptions>;
  private windowStart: number | undefined; // when the window began (undefined: at the next completion)
  private bytes = 0;
  private samples = 0;
  private busySamples = 0; // completions after which a download was waiting for a slot
  private base: Throughput | undefined; // the last window's throughput at the limit before this window's
  private stepped = false; // this window runs at a limit just raised from the base's
  private previous = 0; // the limit before the last step up
  private held = 0; // windows held since a step that did not help
  private climbing = true; // trying a step up, or about to (false: held after one that did not pay, or congestion)
  private ceiling: number | undefined; // the lowest limit at which the CDN said it was congested
  private lastCut = Number.NEGATIVE_INFINITY;

  constructor(options: AdaptiveLimitOptions) {
    this.o = { windowMs: 250, minSamples: 16, growth: 1.5, gain: 0.1, clipBytes: 1 << 20, probeWindows: 4, forgetMs: 30_000, ...options };
    if (!Number.isInteger(options.max) || options.max < 1) throw new RangeError(`max must be a positive integer, got ${options.max}`);
    this.limit = Math.min(Math.max(1, Math.floor(options.initial)), options.max);
  }

  // Whether the limit is settled for now: not being raised, since the last step did not pay, it is at the top it
  // may reach (the cap, or under a congestion), or the CDN is congested. A probe later may raise it still.
  get settled(): boolean {
    return !this.climbing;
  }

  // The level congestion was last seen at (growth stays an eighth below it), if it is still remembered.
  get congestedAt(): number | undefined {
    return this.ceiling;
  }

  // A transfer completed with `bytes`; `busy`: a download was waiting for a slot when it did.
  transferred(bytes: number, busy: boolean): void {
    const now = this.o.now();
    this.forget(now);
    if (this.windowStart === undefined) {
      this.windowStart = now; // the first completion starts the clock: the time before it was not downloading
      return;
    }
    this.bytes += Math.min(Math.max(0, bytes), this.o.clipBytes);
    this.samples++;
    if (busy) this.busySamples++;
    const elapsed = now - this.windowStart;
    if (elapsed < this.o.windowMs || this.samples < Math.max(this.o.minSamples, this.limit)) return;
    const throughput = { files: (this.samples * 1000) / elapsed, bytes: (this.bytes * 1000) / elapsed };
    this.endWindow(throughput, this.busySamples * 2 >= this.samples, now);
  }

  // The CDN answered 429 or 503, or reset the connection: halve (at most once per window, never below 1) and
  // remember the level it happened at. Returns whether the limit was cut.
  congested(): boolean {
    const now = this.o.now();
    if (now - this.lastCut < this.o.windowMs) return false; // the same congestion, seen by another download
    this.lastCut = now;
    this.ceiling = Math.min(this.ceiling ?? Number.POSITIVE_INFINITY, this.limit);
    this.limit = Math.max(1, Math.floor(this.limit / 2));
    this.climbing = false;
    this.base = undefined;
    this.stepped = false;
    this.held = 0;
    this.startWindow(now);
    return true;
  }

  private endWindow(throughput: Throughput, busy: boolean, now: number): void {
    this.startWindow(now);
    if (!busy) {
      // Downloads were not waiting for slots: the work coming in set the pace, not the limit.
      this.base = undefined;
      this.stepped = false;
      return;
    }
    const base = this.base;
    const stepped = this.stepped;
    this.base = throughput;
    this.stepped = false;
    if (base !== undefined && stepped && !paid(throughput, base, this.limit / this.previous, this.o.gain)) {
      // The step did not pay: back to the level that did as well, and hold there.
      this.limit = this.previous;
      this.climbing = false;
      this.base = base;
      this.held = 0;
    } else if (base === undefined || stepped || ++this.held >= this.o.probeWindows) {
      // A first measure at this limit, a step that paid, or held long enough: one step higher.
      this.stepUp();
    }
  }

  private stepUp(): void {
    const margin = this.ceiling === undefined ? 0 : Math.max(1, Math.ceil(this.ceiling / 8));
    const top = Math.min(this.o.max, this.ceiling === undefined ? this.o.max : this.ceiling - margin);
    const next = Math.min(top, Math.ceil(this.limit * this.o.growth));
    this.held = 0;
    this.climbing = next > this.limit;
    if (!this.climbing) return;
    this.previous = this.limit;
    this.limit = next;
    this.stepped = true;
  }

  private startWindow(now: number): void {
    this.windowStart = now;
    this.bytes = 0;
    this.samples = 0;
    this.busySamples = 0;
  }

  private forget(now: number): void {
    if (this.ceiling !== undefined && now - this.lastCut >= this.o.forgetMs) this.ceiling = undefined;
  }
}

// Whether a step up by `ratio` paid: files and bytes per second both rose by `gain`, or by half of what the step
// could give at best when it was smaller (the cap cut it short).
function paid(now: Throughput, before: Throughput, ratio: number, gain: number): boolean {
  const factor = 1 + Math.min(gain, (ratio - 1) / 2);
  return now.files >= before.files * factor && now.bytes >= before.bytes * factor;
}

// One window's measure: completed transfers and their (clipped) bytes, per second.
interface Throughput {
  files: number;
  bytes: number;
}
