// The one Discord REST client of a run, for every route: @discordjs/rest builds the requests, keeps its bucket
// queues and turns 4xx/5xx answers into its errors; the requests go over our undici Agent (its `makeRequest`
// hook, `transport` below), where every response is read once for its rate-limit answer. Around it: one global
// limit (ours: the REST client's own is switched off), one per-route pacer learning hidden sub-limits from 429s,
// backoff with jitter for 5xx and network faults, an invalid-request budget, long-wait checks, and one
// translation of failures into DpsError subclasses. The REST client never sleeps for a rate limit itself: every
// 429, and every wait it would sleep before sending, comes back here as a RateLimitError and is waited out by
// the pacer or the global limit (both abortable, both checked against --max-wait).

import { STATUS_CODES } from 'node:http';
import { DiscordAPIError, HTTPError, RateLimitError, REST } from '@discordjs/rest';
import type { RequestData, ResponseLike } from '@discordjs/rest';
import type { RequestInit } from 'undici';
import { Agent, request } from 'undici';
import { AbortedError, AccessError, ApiError, AuthError, isDpsError, redact } from '../errors.js';
import { resolveApiUrl } from './api-url.js';
import { NETWORK_DEFAULTS, USER_AGENT_APPENDIX } from './defaults.js';
import { systemClock } from './clock.js';
import type { Clock } from './clock.js';
import { GlobalLimit } from './global-limit.js';
import { DEFAULT_MAX_WAIT_MS, DEFAULT_NOTICE_WAIT_MS, LongWaits } from './long-wait.js';
import type { RateLimitWait } from './long-wait.js';
import { Pacer } from './pacer.js';
import { backoff } from '../util/backoff.js';
import { historyPage, InvalidResponseError } from './validate.js';
import { readRateLimit } from './rate-limit-headers.js';
import { linkController } from '../util/link-signals.js';
import type { RateLimitAnswer } from './rate-limit-headers.js';

export { DEFAULT_API } from './defaults.js';

export interface DiscordClientOptions {
  token: string;
  tokenType?: 'bot' | 'user';
  api?: string; // full base with version, e.g. https://discord.com/api/v10
  retries?: number; // attempts after the first, for 5xx / network / malformed bodies
  backoffMs?: number; // first backoff; doubles each attempt, with full jitter
  timeoutMs?: number;
  invalidBudget?: number; // stop before this many 401/403/429 in 10 minutes (Discord bans at 10,000)
  polite?: boolean; // pace every bucket below its limit and the global rate at 25/s
  globalPerSecond?: number;
  maxWaitMs?: number; // a rate-limit wait longer than this stops with DPS_RATE_LIMIT instead of sleeping [15 min]
  noticeWaitMs?: number; // a rate-limit wait longer than this is announced through onLongWait [10 s]
  onLongWait?: (wait: RateLimitWait) => void;
  allowInsecureApi?: boolean; // send the token over plain http to a host that is not loopback (see api-url.ts)
  clock?: Clock; // the pacer's, the global limit's and the invalid-request window's time
}

// What the caller is doing, for one-line error messages ("channel 123", "server 456").
export interface RequestContext {
  what?: string;
  query?: Record<string, string | undefined>;
  body?: unknown;
  signal?: AbortSignal | undefined;
}

export interface ClientStats {
  requests: number;
  rateLimited: number;
  invalid: number;
  retried: number;
}

const INVALID_WINDOW_MS = 10 * 60 * 1000;
const HISTORY_ROUTE = /^\/channels\/\d+\/messages$/;

export class DiscordClient {
  readonly stats: ClientStats = { requests: 0, rateLimited: 0, invalid: 0, retried: 0 };
  readonly apiOrigin: string;
  readonly globalPerSecond: number; // the global limit this client keeps to (lower with --polite)
  private readonly rest: REST;
  private readonly agent = new Agent({ keepAliveTimeout: 10_000 });
  private readonly pacer: Pacer;
  private readonly global: GlobalLimit;
  private readonly apiPath: string; // the API base's path (/api/v10), cut from request URLs
  private readonly options: Required<Omit<DiscordClientOptions, 'api'>> & { api: string };
  private invalidTimes: number[] = [];
  private priorityOf: (path: string) => number = () => 0;
  private readonly waits: LongWaits;

  constructor(options: DiscordClientOptions) {
    const { api, url } = resolveApiUrl(options.api, options.allowInsecureApi); // no token to a redirected plain-http API
    this.options = {
      tokenType: 'bot',
      retries: NETWORK_DEFAULTS.retries,
      backoffMs: NETWORK_DEFAULTS.backoffMs,
      timeoutMs: NETWORK_DEFAULTS.apiTimeoutMs,
      invalidBudget: 5_000,
      polite: false,
      globalPerSecond: NETWORK_DEFAULTS.globalPerSecond,
      maxWaitMs: DEFAULT_MAX_WAIT_MS,
      noticeWaitMs: DEFAULT_NOTICE_WAIT_MS,
      onLongWait: () => undefined,
      allowInsecureApi: false,
      clock: systemClock,
      ...options,
      api,
    };
    const { clock } = this.options;
    this.apiOrigin = url.origin;
    this.apiPath = url.pathname.replace(/\/+$/, '');
    const match = /^(.*)\/v(\d+)$/.exec(api);
    this.waits = new LongWaits({ noticeMs: this.options.noticeWaitMs, maxWaitMs: this.options.maxWaitMs }, this.options.onLongWait, () => clock.now());
    this.globalPerSecond = this.options.polite ? 25 : this.options.globalPerSecond;
    this.global = new GlobalLimit(this.globalPerSecond, (ms) => this.waits.check('global', ms), clock);
    this.pacer = new Pacer({ polite: this.options.polite, clock, onWait: (route, ms) => this.waits.check('route', ms, route) });
    this.rest = new REST({
      api: match?.[1] ?? api,
      version: match?.[2] ?? '10',
      retries: 0, // we retry ourselves, with backoff
      timeout: this.options.timeoutMs,
      userAgentAppendix: USER_AGENT_APPENDIX,
      authPrefix: 'Bot',
      // Its global limit never counts down (ours is the one), its waits carry no offset beyond Discord's.
      globalRequestsPerSecond: Number.POSITIVE_INFINITY,
      offset: 0,
      rejectOnRateLimit: (data) => {
        // A global 429 also holds every later request of the REST client until its whole-second Retry-After:
        // cleared, so only our GlobalLimit holds them, for the exact wait.
        if (data.global) this.rest.globalReset = -1;
        return true;
      },
      makeRequest: (target, init) => this.transport(target, init),
    });
    if (this.options.tokenType === 'bot') this.rest.setToken(this.options.token);
  }

  // GET a route such as `/channels/123/messages`, with retries and error translation.
  async get<T>(route: `/${string}`, context: RequestContext = {}): Promise<T> {
    return this.request<T>('GET', route, context);
  }

  // POST a JSON body to a route.
  async post<T>(route: `/${string}`, context: RequestContext = {}): Promise<T> {
    return this.request<T>('POST', route, context);
  }

  // The learnt average spacing of GET requests on a route, in ms (0: unpaced): pages.ts walks a channel from
  // both ends only while its history route has no learnt pace.
  intervalOf(route: `/${string}`): number {
    return this.pacer.intervalOf(`GET ${route}`);
  }

  // Which requests go first when several wait for the global limit: a higher number first (0 for all by default).
  prioritize(priorityOf: (path: string) => number): void {
    this.priorityOf = priorityOf;
  }

  // Requests waiting for the global limit right now (0 while it has headroom).
  get globalBacklog(): number {
    return this.global.backlog;
  }

  // The rate-limit wait requests are in right now (the one that ends last), for the progress display.
  get rateLimitWait(): { scope: 'global' | 'route'; until: number } | undefined {
    return this.waits.waiting();
  }

  // The learnt spacing of one channel's message-history requests, ms (0: none learnt): the bucket's, shared by
  // every channel (lib/discord/pacer.ts).
  historyPaceMs(): number {
    return this.pacer.intervalOf('GET /channels/10000000000000000/messages');
  }

  // The invalid requests (401/403/non-shared 429) seen in the last 10 minutes.
  invalidInWindow(now = this.options.clock.now()): number {
    this.invalidTimes = this.invalidTimes.filter((at) => now - at < INVALID_WINDOW_MS);
    return this.invalidTimes.length;
  }

  // Stops the REST client's timers and closes the connections so the process can exit.
  close(): void {
    this.rest.clearHashSweeper();
    this.rest.clearHandlerSweeper();
    void this.agent.close().catch(() => undefined);
  }

  private async request<T>(method: 'GET' | 'POST', route: `/${string}`, context: RequestContext): Promise<T> {
    const { signal } = context;
    const paceKey = `${method} ${route}`; // the pacer's route, and how long waits name it
    let attempt = 0;
    for (;;) {
      signal?.throwIfAborted();
      this.checkBudget();
      const paced = await this.pacer.wait(paceKey, signal);
      let accepted = false;
      try {
        await this.global.unblocked(signal); // a long global 429 is waited out here, not inside the REST client's timeout
        this.stats.requests++;
        const result = await this.send(method, route, context);
        // A body that is not JSON (a proxy's HTML page) comes back as bytes: an invalid response, retried like a
        // 5xx, never data (history pages are checked in full by the transport).
        if (result === null || typeof result !== 'object' || result instanceof ArrayBuffer) {
          throw new InvalidResponseError(
            `invalid response for ${context.what ?? route}: ${typeof result === 'string' ? 'text' : result === null ? 'null' : 'bytes'} instead of JSON`,
          );
        }
        accepted = true;
        return result as T;
      } catch (error) {
        if (signal?.aborted) throw new AbortedError('aborted', { cause: signal.reason });
        if (error instanceof RateLimitError) {
          this.rateLimited(error, paceKey, context.what ?? route);
          continue; // waited out by the pacer or the global limit; not an attempt
        }
        const translated = this.translate(error, context.what ?? route);
        if (isDpsError(translated)) throw translated;
        if (attempt >= this.options.retries) throw this.giveUp(error, context.what ?? route, attempt);
      } finally {
        paced(accepted);
      }
      attempt++;
      this.stats.retried++;
      await backoff(attempt - 1, this.options.backoffMs, signal);
    }
  }

  // One attempt through the REST client. A child signal per call: @discordjs/rest adds an abort listener to the
  // signal it is given and never removes it, so it gets a short-lived signal and ours is unlinked in `finally`.
  private async send(method: 'GET' | 'POST', route: `/${string}`, context: RequestContext): Promise<unknown> {
    const child = linkController(context.signal);
    try {
      const data: RequestData = { signal: child.signal };
      if (context.query) data.query = toSearchParams(context.query);
      if (context.body !== undefined) data.body = context.body;
      if (this.options.tokenType === 'user') {
        data.auth = false;
        data.headers = { Authorization: this.options.token };
      }
      return method === 'GET' ? await this.rest.get(route, data) : await this.rest.post(route, data);
    } finally {
      child.unlink();
    }
  }

  // The REST client's `makeRequest`: one request over our Agent, its body read in full, its rate-limit answer
  // acted on (the one place that reads it), and a message-history page checked before anything parses it.
  private async transport(url: string, init: RequestInit): Promise<ResponseLike> {
    const method = (init.method ?? 'GET').toUpperCase();
    const path = new URL(url).pathname.slice(this.apiPath.length);
    // The global limit and the pacer's record of when a request left apply here, where it really leaves: the
    // REST client holds a route's requests in its own queue (one at a time per bucket) until then.
    await this.global.wait(init.signal ?? undefined, this.priorityOf(path));
    this.pacer.sent(`${method} ${path}`);
    const response = await request(url, {
      dispatcher: this.agent,
      method: method as 'GET' | 'POST',
      headers: init.headers as Record<string, string>,
      body: (init.body as string | null | undefined) ?? null,
      signal: init.signal ?? undefined,
      headersTimeout: this.options.timeoutMs,
      bodyTimeout: this.options.timeoutMs,
    });
    const bytes = Buffer.from(await response.body.arrayBuffer());
    const status = response.statusCode;
    const headers = new Headers();
    for (const [name, value] of Object.entries(response.headers)) {
      if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
    const text = bytes.toString('utf8');
    this.observe(`${method} ${path}`, readRateLimit(status, headers, status === 429 ? text : undefined));
    let parsed: unknown;
    if (status >= 200 && status < 300 && method === 'GET' && HISTORY_ROUTE.test(path)) {
      parsed = historyPage(headers.get('content-type') ?? undefined, text, path); // never taken as an empty page
    }
    return {
      body: null,
      bodyUsed: false,
      headers,
      status,
      statusText: STATUS_CODES[status] ?? '',
      ok: status >= 200 && status < 300,
      text: async () => text,
      json: async () => parsed ?? JSON.parse(text),
      arrayBuffer: async () => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
    } as ResponseLike;
  }

  // Every response passes here: count invalid requests, teach the pacer, hold every request for a global 429.
  private observe(route: string, answer: RateLimitAnswer): void {
    const now = this.options.clock.now();
    const { status } = answer;
    if (status === 401 || status === 403 || (status === 429 && !answer.shared)) {
      this.invalidTimes.push(now);
      this.stats.invalid++;
    }
    if (status === 429) {
      this.stats.rateLimited++;
      if (answer.global && answer.retryAfterMs > 0) this.global.block(now + answer.retryAfterMs); // capped by readRateLimit
      this.pacer.onRateLimited(route, answer);
    } else if (status !== 401 && status !== 403) {
      this.pacer.onResponse(route, answer);
    }
  }

  // A 429, or a bucket the REST client refused to send on before its reset: stop when it cannot be waited out
  // (no Retry-After: Cloudflare's `error code: 1015` ban, which every retry extends; or the invalid-request
  // budget is spent), else leave the wait to the pacer, holding the route until the REST client's own reset.
  private rateLimited(error: RateLimitError, paceKey: string, target: string): void {
    if (this.budgetSpent()) throw this.budgetError();
    if (!(error.retryAfter > 0)) {
      throw new ApiError(
        `stopping: Discord answered 429 without Retry-After for ${target} (a Cloudflare ban of this IP, "error code: 1015", after too many invalid requests). Wait at least an hour, then re-run to resume.`,
        { cause: error, status: 429, code: 'DPS_RATE_LIMIT_BUDGET' },
      );
    }
    if (!error.global && error.timeToReset > 0) this.pacer.hold(paceKey, error.timeToReset);
  }

  // The invalid-request budget is used up: stop rather than wait or retry.
  private budgetSpent(): boolean {
    return this.invalidInWindow() >= this.options.invalidBudget;
  }

  // Errors that can never succeed become ours; retryable ones (5xx, network, timeouts, invalid bodies) are
  // returned unchanged.
  private translate(error: unknown, target: string): unknown {
    if (!(error instanceof DiscordAPIError)) return error;
    const { status } = error;
    const message =
      typeof (error.rawError as { message?: unknown } | undefined)?.message === 'string' ? error.message : (STATUS_CODES[status] ?? 'Client Error');
    const code = typeof error.code === 'number' && error.code ? error.code : undefined;
    const detail = `${this.clean(message)} (${status}${code ? `, code ${code}` : ''})`;
    if (status === 401)
      return new AuthError(`Discord rejected the token: ${detail}. Check --token / DISCORD_TOKEN and --token-type.`, { cause: error, status });
    if (status === 403) return new AccessError('DPS_ACCESS', `no access to ${target}: ${detail}`, { cause: error, status });
    if (status === 404) return new AccessError('DPS_NOT_FOUND', `${target} not found: ${detail}`, { cause: error, status });
    return new ApiError(`Discord refused the request for ${target}: ${detail}`, { cause: error, status, apiCode: code });
  }

  private giveUp(error: unknown, target: string, attempt: number): ApiError {
    const status = error instanceof HTTPError ? error.status : undefined;
    const reason = error instanceof Error ? this.clean(error.message) : String(error);
    return new ApiError(`request for ${target} failed after ${attempt + 1} attempts: ${reason}`, { cause: error, status });
  }

  private clean(message: string): string {
    return redact(message, [this.options.token]);
  }

  private checkBudget(): void {
    if (this.budgetSpent()) throw this.budgetError();
  }

  private budgetError(): ApiError {
    return new ApiError(
      `stopping: ${this.invalidInWindow()} invalid requests (401/403/429) in 10 minutes; Discord bans clients at 10,000. Wait 10 minutes and re-run to resume.`,
      { code: 'DPS_RATE_LIMIT_BUDGET' },
    );
  }
}

function toSearchParams(query: Record<string, string | undefined>): URLSearchParams {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, value);
  return params;
}
