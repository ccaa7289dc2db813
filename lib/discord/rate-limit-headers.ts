// The one reader of Discord's rate-limit answers: every response's status, X-RateLimit-* headers, Retry-After
// and (for a 429) its body become a RateLimitAnswer, which the client, the pacer and the global limit act on.

// Response headers as the transport exposes them.
export interface HeadersLike {
  get(name: string): string | null;
}

// What one response says about the rate limits.
export interface RateLimitAnswer {
  status: number;
  global: boolean; // a 429 of the global limit (the whole bot waits), not of one route's bucket
  shared: boolean; // X-RateLimit-Scope: shared (not counted as invalid)
  limit: number | undefined; // X-RateLimit-Limit
  remaining: number | undefined; // X-RateLimit-Remaining
  resetAfterMs: number | undefined; // X-RateLimit-Reset-After
  // A 429's wait: the body's exact `retry_after` when it is below the Retry-After header, which Discord rounds up
  // to whole seconds (docs/discord-api.md#429-responses), else the header; NaN without a header (a Cloudflare ban).
  retryAfterMs: number;
}

// 30 days: the longest Retry-After taken as given (1e300 or Infinity is held here: still over any --max-wait).
export const MAX_RETRY_AFTER_S = 30 * 24 * 3600;

// `body`: the response's text, read only for a 429 with a JSON content type.
export function readRateLimit(status: number, headers: HeadersLike, body?: string): RateLimitAnswer {
  const scope = headers.get('x-ratelimit-scope');
  const json = headers.get('content-type')?.startsWith('application/json') === true;
  return {
    status,
    global: headers.get('x-ratelimit-global') !== null || scope === 'global',
    shared: scope === 'shared',
    limit: positive(headers.get('x-ratelimit-limit')),
    remaining: finite(headers.get('x-ratelimit-remaining')),
    resetAfterMs: seconds(headers.get('x-ratelimit-reset-after')),
    retryAfterMs: status === 429 ? retryAfterSeconds(headers.get('retry-after'), json ? body : undefined) * 1000 : Number.NaN,
  };
}

// A Retry-After header in seconds, held at MAX_RETRY_AFTER_S; undefined when absent or not a number (an HTTP
// date is not sent by Discord). A repeated header (undici gives an array) is read from its first value.
export function parseRetryAfter(header: string | readonly string[] | null | undefined): number | undefined {
  const value = typeof header === 'string' ? header : header?.[0];
  if (value === undefined || value === null || value.trim() === '') return undefined;
  const seconds = Number(value);
  return seconds >= 0 ? Math.min(seconds, MAX_RETRY_AFTER_S) : undefined;
}

// A 429's wait in seconds (see RateLimitAnswer.retryAfterMs); `jsonBody` is the body's text when it is JSON.
function retryAfterSeconds(header: string | null | undefined, jsonBody: string | undefined): number {
  const seconds = parseRetryAfter(header) ?? Number.NaN;
  if (!(seconds > 0)) return Number.NaN;
  if (jsonBody === undefined) return seconds;
  try {
    const exact: unknown = (JSON.parse(jsonBody) as { retry_after?: unknown } | null)?.retry_after;
    if (typeof exact === 'number' && exact > 0 && exact < seconds) return exact;
  } catch {
    // not JSON after all: the header stands
  }
  return seconds;
}

function finite(value: string | null): number | undefined {
  if (value === null || value === '') return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

function positive(value: string | null): number | undefined {
  const n = finite(value);
  return n !== undefined && n > 0 ? n : undefined;
}

function seconds(value: string | null): number | undefined {
  const n = finite(value);
  return n !== undefined && n >= 0 ? Math.min(n, MAX_RETRY_AFTER_S) * 1000 : undefined;
}
