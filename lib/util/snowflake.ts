// Snowflakes are 64-bit ids sent as decimal strings: compare them as BigInt, never as numbers or strings.

export const DISCORD_EPOCH = 1420070400000n;
const SNOWFLAKE = /^(0|[1-9][0-9]{0,19})$/;
const MAX = (1n << 64n) - 1n;

// True when `value` is a syntactically valid snowflake (what Discord's API accepts).
export function isSnowflake(value: string): boolean {
  return SNOWFLAKE.test(value) && BigInt(value) <= MAX;
}

// True for an id as Discord sends them: 17 to 20 digits, no leading zero, below 2^64 (the first snowflakes of
// 2015 have 17 digits). What the API sends is checked with this before it can become a cursor or a record key.
export function isDiscordId(value: unknown): value is string {
  return typeof value === 'string' && /^[1-9][0-9]{16,19}$/.test(value) && BigInt(value) <= MAX;
}

// Numeric comparison of two snowflakes: negative, zero or positive like Array#sort expects.
export function compareSnowflakes(a: string, b: string): number {
  // Fast path for canonical decimal strings (no leading zeros): the longer is larger, else compare as text.
  if (a.charCodeAt(0) !== 48 && b.charCodeAt(0) !== 48) {
    if (a.length !== b.length) return a.length < b.length ? -1 : 1;
    return a < b ? -1 : a > b ? 1 : 0;
  }
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

// The larger of two snowflakes (undefined counts as "nothing yet").
export function maxSnowflake(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return compareSnowflakes(a, b) >= 0 ? a : b;
}

// The creation time encoded in a snowflake.
export function snowflakeToDate(id: string): Date {
  return new Date(Number((BigInt(id) >> 22n) + DISCORD_EPOCH));
}

// The smallest (high=false) or largest (high=true) snowflake that can exist at a given instant.
export function snowflakeFromDate(date: Date, high = false): string {
  const ms = BigInt(date.getTime()) - DISCORD_EPOCH;
  if (ms < 0n) return '0';
  const base = ms << 22n;
  return (high ? base + (1n << 22n) - 1n : base).toString();
}

// One less / one more than a snowflake, for turning inclusive bounds into the API's exclusive ones.
export function snowflakeOffset(id: string, delta: number): string {
  const value = BigInt(id) + BigInt(delta);
  return (value < 0n ? 0n : value).toString();
}

// Parses a --after/--before value: a snowflake, or an ISO date/time. Returns the exclusive bound as a snowflake.
// `after` bounds keep messages strictly newer than the instant/id; `before` bounds strictly older.
export function parseBound(value: string, side: 'after' | 'before'): string | undefined {
  const text = value.trim();
  if (isSnowflake(text)) return text;
  if (!/^\d{4}-\d{2}-\d{2}/.test(text)) return undefined;
  const date = new Date(text);
  if (Number.isNaN(date.getTime())) return undefined;
  // after 2024-01-01: every message created at or after that instant, so exclude ids below its first snowflake.
  return side === 'after' ? snowflakeOffset(snowflakeFromDate(date, false), -1) : snowflakeFromDate(date, false);
}
