// Runs async sections one at a time per key; different keys proceed in parallel. Used wherever a
// read-modify-write must not interleave: two downloads of identical bytes must not both be "first", two
// callers must not both see a path as free or add to the same old counter.
export class KeyedLock {
  readonly #tails = new Map<string, Promise<unknown>>();

  async run<T>(key: string, section: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const current = previous.then(section, section);
    const tail = current.catch(() => undefined);
    this.#tails.set(key, tail);
    try {
      return await current;
    } finally {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }

  // Resolves once no section is running or queued (sections queued meanwhile are waited for too).
  async idle(): Promise<void> {
    while (this.#tails.size > 0) await Promise.all(this.#tails.values());
  }
}
