// Message history pages straight over undici. A run asks for history hundreds of thousands of times (10,000
// pages for a million messages), and through @discordjs/rest's queue each page left promises and contexts
// behind that kept earlier pages alive through two young-generation collections: ~3.4 MB promoted per
// scavenge against ~25 KB for a bare request, and most of a run's garbage-collection time (bench/limits.md).
// This path keeps the REST client's contract for that one route: the run's global limit, a 429 waited out for
// its exact `retry_after` (the whole-second Retry-After header rounds up), a 429 without Retry-After (a
// Cloudflare ban) or over the invalid-request budget rejected as a RateLimitError, other 4xx as DiscordAPIError
// and 5xx as HTTPError, so DiscordClient retries and translates them exactly as it does the REST client's.

import { STATUS_CODES } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { DiscordAPIError, HTTPError, RateLimitError } from '@discordjs/rest';
import type { DiscordErrorData } from '@discordjs/rest';
import { Agent, request } from 'undici';
import type { GlobalLimit } from './global-limit.js';
import { isGlobalRateLimit, retryAfterSeconds } from './rate-limit-headers.js';
import type { HeadersLike } from './rate-limit-headers.js';
import { historyPage } from './validate.js';

export interface HistoryRequestOptions {
  api: string; // base with version, e.g. https://discord.com/api/v10
  authorization: string; // the Authorization header's value
  userAgent: string;
  timeoutMs: number;
  global: GlobalLimit;
  // Sees every response, 429s included (with the exact wait in Retry-After); blocks `global` on a global 429.
  onResponse: (path: string, status: number, headers: HeadersLike) => void;
  budgetSpent: () => boolean; // true: give up on a 429 instead of waiting it out
  beforeWait?: (scope: 'global' | 'route', route: string, waitMs: number) => void; // before a 429 is waited out (may throw)
}

const NO_BODY = { body: undefined, files: undefined };

// The route this path serves: GET /channels/{id}/messages, with any query.
export function isHistoryRoute(method: string, route: string): boolean {
  return method === 'GET' && /^\/channels\/\d+\/messages$/.test(route);
}

// GETs of the history route, over their own keep-alive connections.
export class HistoryRequests {
  private readonly agent = new Agent({ keepAliveTimeout: 10_000 });
  private readonly headers: Record<string, string>;

  constructor(private readonly options: HistoryRequestOptions) {
    this.headers = { authorization: options.authorization, 'user-agent': options.userAgent };
  }

  // The parsed JSON body of a successful response, checked to be a page of messages (validate.ts). `onSent` is called
  // as each attempt leaves (after the global limit), for the pacer's window measurements.
  async get(route: string, query: URLSearchParams | undefined, signal?: AbortSignal, onSent?: () => void): Promise<unknown> {
    const { options } = this;
    const url = `${options.api}${route}${query && query.size > 0 ? `?${query.toString()}` : ''}`;
    for (;;) {
      await options.global.wait(signal);
      onSent?.();
      const response = await request(url, {
        dispatcher: this.agent,
        method: 'GET',
        headers: this.headers,
        signal,
        headersTimeout: options.timeoutMs,
        bodyTimeout: options.timeoutMs,
      });
      const text = await response.body.text();
      const status = response.statusCode;
      const raw = response.headers;
      const json = header(raw, 'content-type')?.startsWith('application/json') === true;
      if (status === 429) {
        const retryAfterMs = retryAfterSeconds(header(raw, 'retry-after'), json ? text : undefined) * 1000;
        const headers = view(raw, Number.isFinite(retryAfterMs) ? String(retryAfterMs / 1000) : undefined);
        options.onResponse(route, status, headers);
        if (!(retryAfterMs > 0) || options.budgetSpent()) throw rateLimitError(url, route, headers, retryAfterMs);
        options.beforeWait?.(isGlobalRateLimit(headers) ? 'global' : 'route', `GET ${route}`, retryAfterMs);
        await sleep(retryAfterMs, undefined, signal ? { signal } : undefined);
        continue;
      }
      options.onResponse(route, status, view(raw));
      if (status >= 500) throw new HTTPError(status, STATUS_CODES[status] ?? 'Server Error', 'GET', url, NO_BODY);
      if (status >= 400) {
        const data = errorData(text, json, status);
        throw new DiscordAPIError(data, data.code, status, 'GET', url, NO_BODY);
      }
      return historyPage(header(raw, 'content-type'), text, route); // a page that is not one is retried, never taken as empty
    }
  }

  close(): void {
    void this.agent.close().catch(() => undefined);
  }
}

type RawHeaders = Record<string, string | string[] | undefined>;

function header(raw: RawHeaders, name: string): string | undefined {
  const value = raw[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

// Response headers as the Pacer and DiscordClient read them; `retryAfter` replaces the Retry-After header.
function view(raw: RawHeaders, retryAfter?: string): HeadersLike {
  return {
    get: (name) => {
      const key = name.toLowerCase();
      if (key === 'retry-after' && retryAfter !== undefined) return retryAfter;
      return header(raw, key) ?? null;
    },
  };
}

function rateLimitError(url: string, route: string, headers: HeadersLike, retryAfterMs: number): RateLimitError {
  const scope = headers.get('x-ratelimit-scope');
  const global = isGlobalRateLimit(headers);
  return new RateLimitError({
    timeToReset: Number(headers.get('x-ratelimit-reset-after') ?? 0) * 1000,
    limit: Number(headers.get('x-ratelimit-limit') ?? 0),
    method: 'GET',
    hash: headers.get('x-ratelimit-bucket') ?? '',
    url,
    route,
    majorParameter: /\d+/.exec(route)?.[0] ?? '',
    global,
    retryAfter: Number.isFinite(retryAfterMs) ? retryAfterMs : 0,
    sublimitTimeout: 0,
    scope: scope === 'global' || scope === 'shared' ? scope : 'user',
  });
}

// A 4xx body as Discord's error object; a body that is not one (an HTML page, say) keeps only the status text.
function errorData(text: string, json: boolean, status: number): DiscordErrorData {
  if (json) {
    try {
      const data = JSON.parse(text) as Partial<DiscordErrorData> | null;
      if (data && typeof data === 'object' && typeof data.message === 'string') return { ...data, code: typeof data.code === 'number' ? data.code : 0, message: data.message };
    } catch {
      // fall through
    }
  }
  return { code: 0, message: STATUS_CODES[status] ?? 'Client Error' };
}
