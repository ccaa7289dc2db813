// The Gateway connection of `dps follow`: one @discordjs/ws WebSocketManager (one shard, intents GUILDS |
// GUILD_MESSAGES | MESSAGE_CONTENT) whose dispatches for the followed server become GatewayEvents, read as an
// async iterable. @discordjs/ws keeps the protocol (heartbeats with jitter, zombie detection, RESUME on
// resume_gateway_url, op 7, op 9, which close codes reconnect); this file adds what it leaves to the
// application (docs/discord-api.md, "Gateway"): the session kept in the state so a restart resumes, the
// session-start limit waited out, the fatal close codes and the bot's removal turned into one-line errors, and
// a bounded buffer that drops events into one `gap` rather than grow while the consumer is slow.

import type { REST } from '@discordjs/rest';
import { WebSocketManager, WebSocketShardEvents } from '@discordjs/ws';
import type { SessionInfo } from '@discordjs/ws';
import { GatewayIntentBits } from 'discord-api-types/v10';
import { AbortedError, AccessError, ApiError, AuthError, isDpsError, redact } from '../errors.js';
import type { DpsError } from '../errors.js';
import { linkController } from '../util/link-signals.js';
import type { LinkedController } from '../util/link-signals.js';
import { DiscordClient } from './client.js';
import { systemClock } from './clock.js';
import type { Clock } from './clock.js';
import { mapDispatch, readyHasGuild } from './gateway-events.js';
import type { GatewayEvent, RawDispatch } from './gateway-events.js';
import { GatewayQueue } from './gateway-queue.js';
import { SessionKeeper, validSession } from './gateway-session.js';
import type { SessionStorage } from './gateway-session.js';
import { checkGatewayUrl, readGatewayBot, StartGate } from './gateway-start.js';

export type { GatewayEvent } from './gateway-events.js';
export type { SessionInfo, SessionStorage } from './gateway-session.js';

// GUILDS (channels, threads, the server itself) | GUILD_MESSAGES | MESSAGE_CONTENT (privileged: attachments).
export const GATEWAY_INTENTS = GatewayIntentBits.Guilds | GatewayIntentBits.GuildMessages | GatewayIntentBits.MessageContent;

// The close code dps stops with: not 1000/1001, which end the session on Discord's side; this one keeps it
// resumable for the next run (4200 is the code @discordjs/ws itself closes with when it means to resume).
export const STOP_CLOSE_CODE = 4200;

export const DEFAULT_MAX_BUFFERED = 10_000;

export interface GatewayOptions {
  token: string;
  apiUrl: string; // the API base, as lib/discord/client.ts gets it (GET /gateway/bot is asked there)
  guildId: string;
  session: SessionStorage; // the state's copy of the session (Store.gatewaySession / saveGatewaySession)
  signal: AbortSignal;
  log?: ((line: string) => void) | undefined; // one line per connection change, for people
  debug?: ((line: string) => void) | undefined; // @discordjs/ws's own debug lines
  maxBuffered?: number | undefined; // events held for a slow consumer before they are dropped into a gap [10,000]
  client?: DiscordClient | undefined; // the run's REST client (else one is made from token and apiUrl, and closed)
  allowInsecureApi?: boolean | undefined;
  clock?: Clock | undefined; // waits for the session-start limit and identify spacing
  identifySpacingMs?: number | undefined; // between two identifies [5,000, Discord's]
}

// Counts for logs and tests.
export interface GatewayStats {
  sessions: number; // READY: new sessions
  resumes: number; // RESUMED
  closes: number; // connections closed by Discord or the network (not by dps)
  dropped: number; // events dropped into gaps
}

// The Gateway as the consumer sees it: events in order, `close()` to stop (keeping the session resumable).
export interface GatewayConnection extends AsyncIterable<GatewayEvent> {
  close(): Promise<void>;
  readonly stats: GatewayStats;
}

// Opens the Gateway for one server. Connecting starts at once; events wait (bounded) for the consumer. The
// iterator throws the run-ending errors (AuthError for a refused token or intents, AccessError when the bot is
// removed from the server, AbortedError on abort) at the next read, before any event still buffered.
export function openGateway(options: GatewayOptions): GatewayConnection {
  const gateway = new Gateway(options);
  gateway.start();
  return gateway;
}

class Gateway implements GatewayConnection {
  readonly stats: GatewayStats = { sessions: 0, resumes: 0, closes: 0, dropped: 0 };
  readonly #options: GatewayOptions;
  readonly #stop: LinkedController;
  readonly #client: DiscordClient;
  readonly #ownClient: boolean;
  readonly #queue: GatewayQueue<GatewayEvent>;
  readonly #gate: StartGate;
  #keeper: SessionKeeper | undefined;
  #manager: WebSocketManager | undefined;
  #failure: DpsError | undefined;
  #closing: Promise<void> | undefined;
  #lastClose = 0;

  constructor(options: GatewayOptions) {
    this.#options = options;
    this.#stop = linkController(options.signal);
    this.#ownClient = options.client === undefined;
    this.#client = options.client ?? new DiscordClient({ token: options.token, api: options.apiUrl, allowInsecureApi: options.allowInsecureApi ?? false });
    this.#queue = new GatewayQueue<GatewayEvent>(
      options.maxBuffered ?? DEFAULT_MAX_BUFFERED,
      (dropped) => ({ type: 'gap', why: `the consumer fell behind: ${dropped} Gateway events dropped` }),
      (sessionId, seq) => this.#keeper?.delivered(sessionId, seq),
    );
    this.#gate = new StartGate({
      fetch: (signal) => this.#client.get('/gateway/bot', { what: 'the Gateway (GET /gateway/bot)', signal }),
      allowInsecure: options.allowInsecureApi ?? false,
      clock: options.clock ?? systemClock,
      log: (line) => this.#log(line),
      spacingMs: options.identifySpacingMs ?? 5_000,
      onRefused: (error) => this.#fail(error), // a token reset while following: exit 3, not reconnects forever
    });
  }

  start(): void {
    this.#stop.signal.addEventListener('abort', () => void this.close(), { once: true });
    this.#run().catch((error: unknown) => this.#fail(error));
  }

  async #run(): Promise<void> {
    const options = this.#options;
    const loaded = validSession(await options.session.load());
    this.#keeper = new SessionKeeper(options.session, loaded, (error) => this.#fail(error));
    if (loaded !== undefined) this.#log(`gateway: resuming the saved session (after event ${loaded.sequence})`);
    // @discordjs/ws refuses to connect without a session start left: wait here until there is one.
    await this.#gate.available(this.#stop.signal);
    if (this.#closing !== undefined) return;
    const keeper = this.#keeper;
    const manager = new WebSocketManager({
      token: options.token,
      intents: GATEWAY_INTENTS,
      shardCount: 1,
      rest: this.#rest(),
      // Once dps has stopped, a connection @discordjs/ws was about to reopen (it pauses 500 ms between two) waits
      // here forever instead: no socket is opened, and nothing holds the process (destroying a shard that is
      // waiting for HELLO makes it reconnect again).
      retrieveSessionInfo: () => (this.#closing === undefined ? keeper.current : this.#held()),
      updateSessionInfo: (_shardId: number, info: SessionInfo | null) => this.#updateSession(info),
      buildIdentifyThrottler: () => this.#gate,
    });
    this.#manager = manager;
    manager.on(WebSocketShardEvents.Dispatch, (payload) => this.#dispatch(payload as RawDispatch));
    manager.on(WebSocketShardEvents.Closed, (code) => this.#closed(code));
    manager.on(WebSocketShardEvents.Error, (error) => this.#fail(this.#fatal(error)));
    manager.on(WebSocketShardEvents.Debug, (line) => options.debug?.(redact(line, [options.token])));
    await manager.connect();
  }

  // @discordjs/ws's REST: it only ever asks GET /gateway/bot; the answer is checked before it connects anywhere.
  #rest(): REST {
    const allowInsecure = this.#options.allowInsecureApi ?? false;
    const get = async (route: string): Promise<unknown> => {
      const body = await this.#client.get(route as `/${string}`, { what: `the Gateway (GET ${route})`, signal: this.#stop.signal });
      readGatewayBot(body, allowInsecure);
      return body;
    };
    return { get } as unknown as REST;
  }

  #updateSession(info: SessionInfo | null): void {
    if (info !== null && this.#closing === undefined) {
      try {
        checkGatewayUrl(info.resumeURL, this.#options.allowInsecureApi ?? false);
      } catch (error) {
        this.#fail(error);
      }
    }
    this.#keeper?.update(info);
  }

  #dispatch(payload: RawDispatch): void {
    if (this.#closing !== undefined) return;
    const sessionId = this.#keeper?.current?.sessionId ?? '';
    const seq = payload.s ?? 0;
    let events: GatewayEvent[];
    try {
      if (payload.t === 'READY') {
        this.stats.sessions++;
        if (!readyHasGuild(payload.d, this.#options.guildId)) {
          throw new AccessError('DPS_ACCESS', `the bot is not a member of server ${this.#options.guildId} (not in its Gateway READY)`);
        }
        this.#log(`gateway: connected, new session (what was posted meanwhile is caught up through REST)`);
        events = [{ type: 'ready', resumed: false }];
      } else if (payload.t === 'RESUMED') {
        this.stats.resumes++;
        this.#log('gateway: session resumed, nothing missed');
        events = [{ type: 'ready', resumed: true }];
      } else {
        events = mapDispatch(payload, this.#options.guildId);
      }
    } catch (error) {
      this.#fail(error);
      return;
    }
    if (events.length === 0) this.#queue.skip(sessionId, seq);
    for (const event of events) this.#queue.push(event, sessionId, seq);
    this.stats.dropped = this.#queue.droppedTotal;
  }

  #closed(code: number): void {
    if (this.#closing !== undefined) return;
    this.#lastClose = code;
    if (FATAL_CLOSE_CODES.has(code)) return; // the error that follows says it
    this.stats.closes++;
    this.#log(`gateway: connection closed (code ${code}), reconnecting`);
  }

  // What a reconnect after dps stopped waits for: nothing, ever.
  #held(): Promise<never> {
    this.#options.debug?.('gateway: a reconnect after dps stopped is held (no socket opened)');
    return new Promise<never>(() => undefined);
  }

  // The client's `error` event: the close code before it says what it was.
  #fatal(error: Error): DpsError {
    const code = this.#lastClose;
    const intents =
      'enable the Message Content intent in the Discord Developer Portal: your application > Bot > Privileged Gateway Intents > Message Content Intent, then run dps follow again';
    switch (code) {
      case 4004:
        return new AuthError('Discord refused the bot token on the Gateway (close code 4004, authentication failed): check --token or DISCORD_TOKEN');
      case 4013:
        return new AuthError(`Discord refused the Gateway intents (close code 4013, invalid intents): ${intents}`);
      case 4014:
        return new AuthError(`the bot may not use the Message Content intent (Gateway close code 4014, disallowed intents): ${intents}`);
      case 4010:
        return new AuthError('Discord refused the Gateway shard (close code 4010, invalid shard)');
      case 4011:
        return new AuthError(
          'Discord requires sharding for this bot (Gateway close code 4011): it is in too many servers for one Gateway connection, which dps follow does not support',
        );
      case 4012:
        return new AuthError('Discord refused the Gateway API version (close code 4012, invalid API version)');
      default:
        return new ApiError(`Gateway error: ${redact(error.message, [this.#options.token])}`, { cause: error });
    }
  }

  #fail(error: unknown): void {
    if (this.#failure !== undefined || this.#closing !== undefined) return;
    this.#failure = isDpsError(error)
      ? error
      : new ApiError(`Gateway error: ${redact(error instanceof Error ? error.message : String(error), [this.#options.token])}`, { cause: error });
    this.#queue.wake();
    void this.close();
  }

  #log(line: string): void {
    this.#options.log?.(redact(line, [this.#options.token]));
  }

  // Stops the connection with STOP_CLOSE_CODE (the session stays resumable and in the state), waits for the
  // state's copy of the session to be written, and ends the iterator.
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    this.#keeper?.stop();
    this.#queue.wake();
    this.#stop.controller.abort(this.#options.signal.aborted ? this.#options.signal.reason : new AbortedError('gateway closed'));
    try {
      await this.#manager?.destroy({ code: STOP_CLOSE_CODE, reason: 'dps is stopping' });
    } catch {
      // already closed
    }
    await this.#keeper?.flushed();
    this.#stop.unlink();
    if (this.#ownClient) this.#client.close();
  }

  async next(): Promise<IteratorResult<GatewayEvent>> {
    for (;;) {
      if (this.#failure !== undefined) throw this.#failure;
      if (this.#options.signal.aborted) throw new AbortedError('aborted', { cause: this.#options.signal.reason });
      if (this.#closing !== undefined) return { done: true, value: undefined };
      const event = this.#queue.shift();
      if (event !== undefined) return { done: false, value: event };
      await this.#queue.ready();
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<GatewayEvent> {
    return {
      next: () => this.next(),
      return: async () => {
        await this.close();
        return { done: true, value: undefined };
      },
    };
  }
}

// Close codes after which @discordjs/ws does not reconnect (it emits `error`): the run ends.
const FATAL_CLOSE_CODES = new Set([4004, 4010, 4011, 4012, 4013, 4014]);
