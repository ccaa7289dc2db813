// The bounded buffer between the Gateway and its consumer. A WebSocket cannot be paused, so while the consumer
// is slow events wait here, up to a limit; past it they are dropped and the consumer gets one `gap` in their
// place (it then catches up through REST, which misses nothing). Each entry carries the sequence number of the
// last dispatch it covers, so the session saved for a restart never claims an event the consumer has not taken.

// One event for the consumer (T) with the session and sequence number of the dispatch it came from.
interface Entry<T> {
  event: T | undefined; // undefined: a gap marker until `gap` is filled in when it is taken
  sessionId: string;
  seq: number;
}

// A queue with a bounded length: `push` beyond `max` turns the tail into one gap that swallows every further
// event until the consumer takes it. `delivered` is told the (session, seq) of each entry the consumer takes, and
// of ignored dispatches once everything before them is taken.
export class GatewayQueue<T> {
  readonly #max: number;
  readonly #gap: (dropped: number) => T;
  readonly #delivered: (sessionId: string, seq: number) => void;
  #items: Array<Entry<T>> = [];
  #head = 0;
  #dropped = 0; // events the gap at the tail swallowed
  #wake: (() => void) | undefined;
  droppedTotal = 0; // events dropped over the queue's life (for tests and logs)

  constructor(max: number, gap: (dropped: number) => T, delivered: (sessionId: string, seq: number) => void) {
    this.#max = Math.max(1, max);
    this.#gap = gap;
    this.#delivered = delivered;
  }

  get length(): number {
    return this.#items.length - this.#head;
  }

  // Add an event; past the limit it is dropped and the tail becomes (or stays) the gap.
  push(event: T, sessionId: string, seq: number): void {
    const tail = this.#tail();
    if (tail?.event === undefined && tail !== undefined) {
      this.#swallow(tail, sessionId, seq);
      return;
    }
    if (this.length >= this.#max) {
      this.#items.push({ event: undefined, sessionId, seq });
      this.#dropped = 1;
      this.droppedTotal++;
    } else {
      this.#items.push({ event, sessionId, seq });
    }
    this.#notify();
  }

  // A dispatch the consumer never sees (another server's, an event type we do not follow): it counts as taken
  // once everything queued before it is.
  skip(sessionId: string, seq: number): void {
    const tail = this.#tail();
    if (tail === undefined) {
      this.#delivered(sessionId, seq);
      return;
    }
    if (tail.sessionId === sessionId && seq > tail.seq) tail.seq = seq;
  }

  // The next event, or undefined when none is queued (the caller waits with `ready`).
  shift(): T | undefined {
    if (this.length === 0) return undefined;
    const entry = this.#items[this.#head] as Entry<T>;
    this.#items[this.#head] = undefined as unknown as Entry<T>;
    this.#head++;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    let event = entry.event;
    if (event === undefined) {
      event = this.#gap(this.#dropped);
      this.#dropped = 0;
    }
    this.#delivered(entry.sessionId, entry.seq);
    return event;
  }

  // Resolves when an event is queued (at once if one is) or `wake()` is called.
  ready(): Promise<void> {
    if (this.length > 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#wake = resolve;
    });
  }

  // Ends a pending `ready` without an event (the gateway failed or was closed).
  wake(): void {
    this.#notify();
  }

  #tail(): Entry<T> | undefined {
    return this.length === 0 ? undefined : this.#items[this.#items.length - 1];
  }

  #swallow(tail: Entry<T>, sessionId: string, seq: number): void {
    this.#dropped++;
    this.droppedTotal++;
    if (tail.sessionId !== sessionId || seq > tail.seq) {
      tail.sessionId = sessionId;
      tail.seq = seq;
    }
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
