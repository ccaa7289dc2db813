// Starting Gateway sessions within Discord's limits: `GET /gateway/bot` (through the run's REST client, so its
// retries, rate limits and error translation apply) tells where to connect and how many session starts are left
// today. With none left dps waits until `reset_after` and says so (an identify over the daily limit resets the
// bot's token); identifies are spaced by max_concurrency per 5 s. The URL the token is sent to is checked like
// the API URL: wss, or ws only to this machine (docs/discord-api.md, "Gateway").

import type { IIdentifyThrottler } from '@discordjs/ws';
import { ApiError, hasCode, UsageError } from '../errors.js';
import { isLoopback } from './api-url.js';
import type { Clock } from './clock.js';

// The part of GET /gateway/bot dps uses.
export interface GatewayBot {
  url: string;
  shards: number;
  session_start_limit: { total: number; remaining: number; reset_after: number; max_concurrency: number };
}

// Fetches GET /gateway/bot (the caller's REST client, with the signal).
export type FetchGatewayBot = (signal: AbortSignal) => Promise<unknown>;

// The answer, checked: a body without a usable url or limit is an ApiError, never a guess.
export function readGatewayBot(body: unknown, allowInsecure: boolean): GatewayBot {
  const data = body as Partial<GatewayBot> | null;
  const limit = data?.session_start_limit;
  if (typeof data?.url !== 'string' || typeof limit !== 'object' || limit === null || typeof limit.remaining !== 'number') {
    throw new ApiError('invalid response for GET /gateway/bot: no url or session_start_limit');
  }
  checkGatewayUrl(data.url, allowInsecure);
  return {
    url: data.url,
    shards: typeof data.shards === 'number' ? data.shards : 1,
    session_start_limit: {
      total: Number(limit.total) || 0,
      remaining: limit.remaining,
      reset_after: Math.max(0, Number(limit.reset_after) || 0),
      max_concurrency: Math.max(1, Number(limit.max_concurrency) || 1),
    },
  };
}

// A Gateway URL the token may be sent to: wss anywhere, ws only to loopback (or with --allow-insecure-api).
export function checkGatewayUrl(value: string, allowInsecure: boolean): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ApiError(`invalid Gateway URL from Discord: ${JSON.stringify(value.slice(0, 200))}`);
  }
  if (url.protocol === 'wss:') return;
  if (url.protocol === 'ws:' && (allowInsecure || isLoopback(url.hostname))) return;
  throw new UsageError(`refusing to send the token over ${url.protocol.replace(':', '')} to the Gateway at ${url.host}: use wss, or pass --allow-insecure-api`);
}

export interface StartGateOptions {
  fetch: FetchGatewayBot;
  allowInsecure: boolean;
  clock: Clock;
  log: (line: string) => void;
  spacingMs: number; // between two identifies of one max_concurrency bucket (Discord: 5 s)
  // The token refused by GET /gateway/bot before an identify (reset meanwhile): the client would only retry it
  // forever (it closes and reconnects when its throttler fails), so this ends the run (exit 3).
  onRefused?: ((error: unknown) => void) | undefined;
}

// Waits, before each new session, until Discord allows one: a session start left today, and the bucket's
// identify spacing. Also the client's identify throttler.
export class StartGate implements IIdentifyThrottler {
  readonly #options: StartGateOptions;
  #lastIdentify = Number.NEGATIVE_INFINITY;

  constructor(options: StartGateOptions) {
    this.#options = options;
  }

  // The gateway information once a session start is available (waiting out reset_after when none is).
  async available(signal: AbortSignal): Promise<GatewayBot> {
    const { clock, log } = this.#options;
    for (;;) {
      signal.throwIfAborted();
      const info = readGatewayBot(await this.#options.fetch(signal), this.#options.allowInsecure);
      const { remaining, reset_after, total } = info.session_start_limit;
      if (remaining > 0) return info;
      const waitMs = Math.max(reset_after, 1000);
      const until = new Date(clock.now() + waitMs).toISOString();
      log(`gateway: no session starts left today (0 of ${total}): waiting until ${until} to connect (Discord resets the bot's token beyond the limit)`);
      await clock.sleep(waitMs, signal);
    }
  }

  // IIdentifyThrottler: before each identify (a new session), a start left and the spacing kept.
  async waitForIdentify(_shardId: number, signal: AbortSignal): Promise<void> {
    const { clock, spacingMs } = this.#options;
    await this.available(signal).catch((error: unknown) => {
      if (hasCode(error, 'DPS_AUTH')) this.#options.onRefused?.(error);
      throw error;
    });
    const wait = this.#lastIdentify + spacingMs - clock.now();
    if (wait > 0) await clock.sleep(wait, signal);
    this.#lastIdentify = clock.now();
  }
}
