// The Gateway session as the state keeps it, so a restarted `dps follow` RESUMEs instead of starting a new
// session: what @discordjs/ws reads and writes lives in memory (its reads must stay synchronous: it handles
// dispatches concurrently), and the state gets, behind it, the session with the sequence number of the last
// event the consumer took, never one it has not. The client's "forget the session" (its write of null when it
// stops) reaches the state only while running, never when dps itself stops, which keeps the session resumable.

import type { SessionInfo } from '@discordjs/ws';

export type { SessionInfo } from '@discordjs/ws';

// Where the session is kept between runs (the state: Store.gatewaySession / saveGatewaySession).
export interface SessionStorage {
  load(): Promise<SessionInfo | undefined>;
  save(info: SessionInfo | undefined): Promise<void>;
}

// A stored session, if it has the shape the client needs (one shard); anything else is ignored (a new session).
export function validSession(value: unknown): SessionInfo | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const info = value as Record<string, unknown>;
  const ok =
    typeof info.sessionId === 'string' &&
    info.sessionId.length > 0 &&
    typeof info.resumeURL === 'string' &&
    typeof info.sequence === 'number' &&
    Number.isSafeInteger(info.sequence) &&
    info.sequence >= 0 &&
    info.shardId === 0 &&
    info.shardCount === 1;
  if (!ok) return undefined;
  // Only these fields: nothing else (never a token) is written back.
  return { sessionId: info.sessionId as string, resumeURL: info.resumeURL as string, sequence: info.sequence as number, shardId: 0, shardCount: 1 };
}

// The client's session in memory, and its copy in the state written behind it (one write at a time, the
// latest value wins).
export class SessionKeeper {
  readonly #storage: SessionStorage;
  readonly #onError: (error: unknown) => void;
  #current: SessionInfo | null;
  #next: { value: SessionInfo | undefined } | undefined;
  #saving: Promise<void> | undefined;
  #stopping = false;

  constructor(storage: SessionStorage, loaded: SessionInfo | undefined, onError: (error: unknown) => void) {
    this.#storage = storage;
    this.#current = loaded ?? null;
    this.#onError = onError;
  }

  // For the client (retrieveSessionInfo): synchronous.
  get current(): SessionInfo | null {
    return this.#current;
  }

  // For the client (updateSessionInfo): a new session (READY), a higher sequence, or null (forget it). A new or
  // forgotten session is saved at once (a restart must not resume a dead one); a new sequence only once the
  // consumer has taken its event (`delivered`).
  update(info: SessionInfo | null): void {
    const previous = this.#current;
    this.#current = info;
    if (this.#stopping) return; // the client's own null write when dps stops: the state keeps the session
    if (info === null) {
      if (previous !== null) this.#save(undefined);
    } else if (previous?.sessionId !== info.sessionId) {
      this.#save(validSession(info));
    }
  }

  // The consumer took the event of dispatch `seq` of session `sessionId`: the state may resume from there.
  delivered(sessionId: string, seq: number): void {
    const current = this.#current;
    if (this.#stopping || current === null || current.sessionId !== sessionId) return;
    const saved = validSession({ ...current, sequence: Math.min(seq, current.sequence) });
    if (saved !== undefined) this.#save(saved);
  }

  // From now on the client's writes stay in memory (dps is stopping; the session must stay resumable).
  stop(): void {
    this.#stopping = true;
  }

  // Resolves once every save asked for is written.
  async flushed(): Promise<void> {
    while (this.#saving !== undefined) await this.#saving;
  }

  #save(value: SessionInfo | undefined): void {
    this.#next = { value };
    this.#saving ??= this.#drain();
  }

  async #drain(): Promise<void> {
    try {
      while (this.#next !== undefined) {
        const { value } = this.#next;
        this.#next = undefined;
        try {
          await this.#storage.save(value);
        } catch (error) {
          this.#onError(error);
        }
      }
    } finally {
      this.#saving = undefined;
    }
  }
}
