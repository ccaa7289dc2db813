// The one Discord REST client of a run: @discordjs/rest for buckets and 429 handling, plus what it lacks:
// backoff with jitter for 5xx and network faults, an invalid-request budget, adaptive pacing learnt from 429s,
// one global limit over every request, and translation of upstream errors into ours at this edge. Message
// history, the route a run requests hundreds of thousands of times, goes straight over undici
// (history-request.ts) under the same pacing, limit, budget and error handling.

import { DefaultRestOptions, DefaultUserAgent, DiscordAPIError, HTTPError, RateLimitError, REST, RESTEvents } from '@discordjs/rest';
import type { RateLimitData, RequestData, ResponseLike } from '@discordjs/rest';
import { AbortedError, AccessError, ApiError, AuthError, DpsError, redact } from '../errors.js';
import { checkApiUrl } from './api-url.js';
import { GlobalLimit } from './global-limit.js';
import { HistoryRequests, isHistoryRoute } from './history-request.js';
import { DEFAULT_MAX_WAIT_MS, DEFAULT_NOTICE_WAIT_MS, LongWaits } from './long-wait.js';
import type { RateLimitWait } from './long-wait.js';
import { Pacer } from './pacer.js';
import { backoff } from '../util/backoff.js';
import { InvalidResponseError } from './validate.js';
import { isGlobalRateLimit, MAX_RETRY_AFTER_S, retryAfterSeconds } from './rate-limit-headers.js';
import type { HeadersLike } from './rate-limit-headers.js';

export const DEFAULT_API = 'https://discord.com/api/v10';
export const USER_AGENT_APPENDIX = 'discord-photo-scraper/0.1.0';

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

export class DiscordClient {
  readonly rest: REST;
  readonly stats: ClientStats = { requests: 0, rateLimited: 0, invalid: 0, retried: 0 };
  readonly pacer: Pacer;
  readonly global: GlobalLimit;
  readonly apiOrigin: string;
  private readonly history: HistoryRequests;
  private readonly options: Required<Omit<DiscordClientOptions, 'api'>> & { api: string };
  private invalidTimes: number[] = [];
  private readonly waits: LongWaits;

  constructor(options: DiscordClientOptions) {
    const api = (options.api ?? DEFAULT_API).replace(/\/+$/, '');
    this.options = {
      tokenType: 'bot',
      retries: 5,
      backoffMs: 500,
      timeoutMs: 30_000,
      invalidBudget: 5_000,
      polite: false,
      globalPerSecond: 50,
      maxWaitMs: DEFAULT_MAX_WAIT_MS,
      noticeWaitMs: DEFAULT_NOTICE_WAIT_MS,
      onLongWait: () => undefined,
      allowInsecureApi: false,
      ...options,
      api,
    };
    this.apiOrigin = checkApiUrl(api, this.options.allowInsecureApi).origin; // no token to a redirected plain-http API
    const match = /^(.*)\/v(\d+)$/.exec(api);
    const globalPerSecond = this.options.polite ? 25 : this.options.globalPerSecond;
    this.waits = new LongWaits({ noticeMs: this.options.noticeWaitMs, maxWaitMs: this.options.maxWaitMs }, this.options.onLongWait);
    this.global = new GlobalLimit(globalPerSecond, (ms) => this.waits.check('global', ms));
    this.rest = new REST({
      api: match?.[1] ?? api,
      version: match?.[2] ?? '10',
      retries: 0, // we retry ourselves, with backoff
      timeout: this.options.timeoutMs,
      userAgentAppendix: USER_AGENT_APPENDIX,
      globalRequestsPerSecond: globalPerSecond,
      authPrefix: 'Bot',
      rejectOnRateLimit: (data) => this.rejectRateLimit(data),
      makeRequest: exactRetryAfter,
    });
    if (this.options.tokenType === 'bot') this.rest.setToken(this.options.token);
    this.pacer = new Pacer({ polite: this.options.polite, onWait: (route, ms) => this.waits.check('route', ms, route) });
    this.rest.on(RESTEvents.Response, (request, response) => this.observe(request.path, response.status, response.headers));
    this.history = new HistoryRequests({
      api,
      authorization: this.options.tokenType === 'user' ? this.options.token : `Bot ${this.options.token}`,
      userAgent: `${DefaultUserAgent} ${USER_AGENT_APPENDIX}`,
      timeoutMs: this.options.timeoutMs,
      global: this.global,
      onResponse: (path, status, headers) => this.observe(path, status, headers),
      budgetSpent: () => this.budgetSpent(),
      beforeWait: (scope, route, ms) => this.waits.check(scope, ms, route),
    });
  }

  // GET a route such as `/channels/123/messages`, with retries and error translation.
  async get<T>(route: `/${string}`, context: RequestContext = {}): Promise<T> {
    return this.request<T>('GET', route, context);
  }

  // POST a JSON body to a route.
  async post<T>(route: `/${string}`, context: RequestContext = {}): Promise<T> {
    return this.request<T>('POST', route, context);
  }

  // The invalid requests (401/403/non-shared 429) seen in the last 10 minutes.
  invalidInWindow(now = Date.now()): number {
    this.invalidTimes = this.invalidTimes.filter((at) => now - at < INVALID_WINDOW_MS);
    return this.invalidTimes.length;
  }

  // Stops the REST client's timers so the process can exit.
  close(): void {
    this.rest.clearHashSweeper();
    this.rest.clearHandlerSweeper();
    this.history.close();
  }

  private async request<T>(method: 'GET' | 'POST', route: `/${string}`, context: RequestContext): Promise<T> {
    const { signal } = context;
    let attempt = 0;
    for (;;) {
      signal?.throwIfAborted();
      this.checkBudget();
      const paced = await this.pacer.wait(route, signal);
      let accepted = false;
      try {
        this.stats.requests++;
        const result = await this.send(method, route, context, paced.sent);
        // The REST client hands back text or bytes for a body that is not JSON (a proxy's HTML page): an invalid
        // response, retried like a 5xx, never data (the history route checks its pages itself).
        if (result === null || typeof result !== 'object' || result instanceof ArrayBuffer) {
          throw new InvalidResponseError(`invalid response for ${context.what ?? route}: ${typeof result === 'string' ? 'text' : result === null ? 'null' : 'bytes'} instead of JSON`);
        }
        accepted = true;
        return result as T;
      } catch (error) {
        if (signal?.aborted) throw new AbortedError('aborted', { cause: signal.reason });
        const translated = this.translate(error, route, context.what);
        if (translated instanceof DpsError || attempt >= this.options.retries) {
          throw translated instanceof DpsError ? translated : this.giveUp(error, route, context.what, attempt);
        }
      } finally {
        paced(accepted);
      }
      attempt++;
      this.stats.retried++;
      await backoff(attempt - 1, this.options.backoffMs, signal);
    }
  }

  // One attempt: message history straight over undici, everything else through the REST client, both under
  // the run's global limit (the history path waits for it before each of its own 429 retries too).
  private async send(method: 'GET' | 'POST', route: `/${string}`, context: RequestContext, onSent: () => void): Promise<unknown> {
    const { signal } = context;
    const query = context.query ? toSearchParams(context.query) : undefined;
    if (isHistoryRoute(method, route)) return this.history.get(route, query, signal, onSent);
    await this.global.wait(signal);
    onSent();
    // A child controller per call: @discordjs/rest adds an abort listener to the signal it is given and never
    // removes it, so it gets a short-lived signal and we unlink ours in `finally`.
    const child = new AbortController();
    const onAbort = (): void => child.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const data: RequestData = { signal: child.signal };
      if (query) data.query = query;
      if (context.body !== undefined) data.body = context.body;
      if (this.options.tokenType === 'user') {
        data.auth = false;
        data.headers = { Authorization: this.options.token };
      }
      return method === 'GET' ? await this.rest.get(route, data) : await this.rest.post(route, data);
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  // A 429 that @discordjs/rest would retry on its own: let it wait out the bucket or the global limit, except
  // when the 429 carries no Retry-After (Cloudflare's `error code: 1015` ban: it would retry at once, and every
  // retry extends the ban) or when the invalid-request budget is spent. Those come back to request() and stop.
  // A wait it would sleep is checked first (announced when long, refused by throwing when over --max-wait): the
  // one after a 429 (its Retry-After, or the bucket's reset when later) and its own pre-emptive one for a bucket
  // with nothing remaining.
  private rejectRateLimit(data: RateLimitData): boolean {
    if (!(data.retryAfter > 0) || this.budgetSpent()) return true;
    const path = (data.url.startsWith(this.options.api) ? data.url.slice(this.options.api.length) : data.route).split('?')[0];
    this.waits.check(data.global ? 'global' : 'route', Math.max(data.retryAfter, data.timeToReset || 0), `${data.method.toUpperCase()} ${path}`);
    return false;
  }

  // The invalid-request budget is used up: stop rather than wait or retry.
  private budgetSpent(): boolean {
    return this.invalidInWindow() >= this.options.invalidBudget;
  }

  // Errors that can never succeed become ours; retryable ones are returned unchanged.
  private translate(error: unknown, route: string, what: string | undefined): unknown {
    const target = what ?? route;
    if (error instanceof RateLimitError) {
      if (this.budgetSpent()) return this.budgetError();
      return new ApiError(
        `stopping: Discord answered 429 without Retry-After for ${target} (a Cloudflare ban of this IP, "error code: 1015", after too many invalid requests). Wait at least an hour, then re-run to resume.`,
        { cause: error, status: 429, code: 'DPS_RATE_LIMIT_BUDGET' },
      );
    }
    if (error instanceof DiscordAPIError) {
      const status = error.status;
      const detail = `${this.clean(error.message)} (${status}${typeof error.code === 'number' && error.code ? `, code ${error.code}` : ''})`;
      if (status === 401) {
        return new AuthError(`Discord rejected the token: ${detail}. Check --token / DISCORD_TOKEN and --token-type.`, { cause: error });
      }
      if (status === 403) return new AccessError('DPS_ACCESS', `no access to ${target}: ${detail}`, { cause: error });
      if (status === 404) return new AccessError('DPS_NOT_FOUND', `${target} not found: ${detail}`, { cause: error });
      if (status === 429) return error; // a 429 the REST client gave up on: retry with backoff
      return new ApiError(`Discord refused the request for ${target}: ${detail}`, { cause: error, status, apiCode: Number(error.code) });
    }
    return error; // HTTPError (5xx), network errors, timeouts, malformed JSON: retryable
  }

  private giveUp(error: unknown, route: string, what: string | undefined, attempt: number): ApiError {
    const status = error instanceof HTTPError ? error.status : undefined;
    const reason = error instanceof Error ? this.clean(error.message) : String(error);
    return new ApiError(`request for ${what ?? route} failed after ${attempt + 1} attempts: ${reason}`, { cause: error, status });
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

  // Every response passes here: count invalid requests, teach the pacer about 429s, hold every request for
  // a global 429's wait (its Retry-After is the body's exact retry_after, see exactRetryAfter).
  private observe(path: string, status: number, headers: HeadersLike): void {
    const scope = headers.get('x-ratelimit-scope');
    if (status === 401 || status === 403 || (status === 429 && scope !== 'shared')) this.invalidTimes.push(Date.now());
    if (status === 429) {
      this.stats.rateLimited++;
      this.stats.invalid += scope === 'shared' ? 0 : 1;
      const retryAfter = Number(headers.get('retry-after'));
      if (isGlobalRateLimit(headers) && retryAfter > 0) this.global.block(Date.now() + Math.min(retryAfter, MAX_RETRY_AFTER_S) * 1000);
      this.pacer.onRateLimited(path, headers);
    } else if (status === 401 || status === 403) {
      this.stats.invalid++;
    } else {
      this.pacer.onResponse(path, headers);
    }
  }
}

// @discordjs/rest waits out a 429 for its Retry-After header, which Discord rounds up to whole seconds
// (discord-api.md §3: `Retry-After: 65` beside `retry_after: 64.57`), and a global 429 holds every request that
// long: a second lost for a window that had 30 ms left. The body's `retry_after` is exact, so a 429 that has one
// is handed on with that value in its header (still seconds; the REST client reads it with Number()). A 429
// without Retry-After (Cloudflare's ban) passes unchanged.
export async function exactRetryAfter(url: string, init: Parameters<typeof DefaultRestOptions.makeRequest>[1]): Promise<ResponseLike> {
  const response = await DefaultRestOptions.makeRequest(url, init);
  const header = response.headers.get('retry-after');
  if (response.status !== 429 || !(Number(header) > 0) || !response.headers.get('content-type')?.startsWith('application/json')) return response;
  const text = await response.text();
  const headers = new Headers(response.headers as unknown as Headers);
  const exact = retryAfterSeconds(header, text);
  if (exact < Number(header)) headers.set('retry-after', String(exact));
  // The global Response (Node's bundled undici) is what @discordjs/rest's own fetch strategy returns too; its
  // types differ from the undici package's only in iterator helpers.
  return new Response(text, { status: response.status, statusText: response.statusText, headers }) as unknown as ResponseLike;
}

function toSearchParams(query: Record<string, string | undefined>): URLSearchParams {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, value);
  return params;
}
