// Reading Discord's rate-limit answers the same way on every path (the REST client's responses, the direct
// history requests, the pacer): which 429s are global, and how long a 429 really asks to wait.

// Response headers, as both transports expose them.
export interface HeadersLike {
  get(name: string): string | null;
}

// A 429 of the global limit (the whole bot waits), not of one route's bucket.
export function isGlobalRateLimit(headers: HeadersLike): boolean {
  return headers.get('x-ratelimit-global') !== null || headers.get('x-ratelimit-scope') === 'global';
}

// A 429's wait in seconds: the body's exact `retry_after` when it is below the Retry-After header, which Discord
// rounds up to whole seconds (discord-api.md §3), else the header; NaN without a header (a Cloudflare ban).
// `jsonBody` is the body's text when its content type is JSON.
// 30 days: the longest Retry-After taken as given.
export const MAX_RETRY_AFTER_S = 30 * 24 * 3600;

export function retryAfterSeconds(header: string | null | undefined, jsonBody: string | undefined): number {
  // A wait past any sane bound (1e300, Infinity) is held at MAX_RETRY_AFTER_S: still longer than any --max-wait.
  const seconds = Math.min(Number(header), MAX_RETRY_AFTER_S);
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
