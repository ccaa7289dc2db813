// `--notify URL`: when a run ends, its `summary` event is POSTed to a URL (the JSON printed on stdout, byte for
// byte), or, for a Discord webhook, a short line a person reads in a channel (`content`). One retry after a short
// pause; every try is bounded, so a dead or silent receiver holds the end of a run for at most ~10 s. The result
// is a problem to report or nothing: a notification never changes how the run ended. Nothing of the bot's
// token is sent: no header carries it, and the body is redacted in case a message quoted it.

import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { redact, UsageError } from '../errors.js';
import { formatDuration } from '../util/duration.js';
import { packageVersion } from '../util/package-version.js';
import type { SummaryEvent } from './events.js';
import { formatBytes } from './progress.js';

// Where a summary goes: the URL, and whether it is a Discord webhook (which takes `{content}`, not the summary).
export interface NotifyTarget {
  url: URL;
  discord: boolean;
}

export interface NotifyOptions {
  server?: string | undefined; // the server (guild) id, named in a webhook's message
  secrets?: readonly string[] | undefined; // never sent (the bot's token)
  timeoutMs?: number | undefined; // one try: connecting, headers and body [4 s]
  retryDelayMs?: number | undefined; // the pause before the one retry [1 s]
}

const TIMEOUT_MS = 4000;
const RETRY_DELAY_MS = 1000;
// The longest pause before the retry (a 429's Retry-After included): two tries and it stay within ~10 s.
const MAX_RETRY_WAIT_MS = 2000;
// Discord refuses a message longer than this.
const CONTENT_LIMIT = 2000;
// A Discord webhook's path (https://discord.com/api/webhooks/<id>/<token>, the same on discordapp.com and the ptb.
// and canary. hosts, with or without /v10): recognised on any host, so a proxy in front of Discord works too.
const WEBHOOK_PATH = /^\/api(\/v\d+)?\/webhooks\/\d+\/[^/]+\/?$/;

// The checked target of `--notify`: an http(s) URL, else a one-line UsageError (before the run starts).
export function notifyTarget(value: string): NotifyTarget {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`--notify must be an http or https URL, got ${JSON.stringify(value)}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new UsageError(`--notify must be an http or https URL, got ${JSON.stringify(value)}`);
  return { url, discord: WEBHOOK_PATH.test(url.pathname) };
}

// Posts the summary (or a webhook's message); resolves with undefined once delivered, or with what went wrong (one
// line naming the host only: a webhook's URL holds its own secret). Never rejects.
export async function sendSummary(target: NotifyTarget, summary: SummaryEvent, options: NotifyOptions = {}): Promise<string | undefined> {
  const secrets = options.secrets ?? [];
  const body = redact(target.discord ? JSON.stringify(webhookMessage(summary, options.server)) : JSON.stringify(summary), secrets);
  const timeoutMs = options.timeoutMs ?? TIMEOUT_MS;
  const agent = new Agent({ connect: { timeout: timeoutMs }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  try {
    let outcome = await post(agent, target.url, body, timeoutMs);
    if (outcome.retry) {
      await sleep(Math.min(outcome.waitMs ?? options.retryDelayMs ?? RETRY_DELAY_MS, MAX_RETRY_WAIT_MS));
      outcome = await post(agent, target.url, body, timeoutMs);
    }
    return outcome.problem === undefined ? undefined : `could not post the summary to ${target.url.host}: ${outcome.problem}`;
  } finally {
    await agent.destroy().catch(() => undefined);
  }
}

interface Outcome {
  problem?: string | undefined;
  retry?: boolean;
  waitMs?: number | undefined; // what a 429 asked for
}

async function post(agent: Agent, url: URL, body: string, timeoutMs: number): Promise<Outcome> {
  try {
    const response = await request(url, {
      method: 'POST',
      dispatcher: agent,
      headers: { 'content-type': 'application/json', 'user-agent': `discord-photo-scraper/${packageVersion()}` },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.body.dump().catch(() => undefined);
    const { statusCode: status } = response;
    if (status >= 200 && status < 300) return {};
    const retryAfter = Number(response.headers['retry-after']);
    return {
      problem: `HTTP ${status}`,
      retry: status >= 500 || status === 429 || status === 408,
      waitMs: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined,
    };
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const name = (error as { name?: unknown }).name;
    const what = name === 'TimeoutError' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT';
    return { problem: what ? `no answer within ${formatDuration(timeoutMs)}` : `network error (${typeof code === 'string' ? code : 'unknown'})`, retry: true };
  }
}

// The message a Discord webhook posts: the totals in one line (mentions disabled: names in an error never ping).
export function webhookMessage(summary: SummaryEvent, server?: string): { content: string; allowed_mentions: { parse: never[] } } {
  const parts = [
    `dps${server ? ` (server ${server})` : ''}: ${summary.saved} files saved (${summary.duplicates} duplicates), ${summary.failed} failed, ${summary.skipped} skipped`,
    `${formatBytes(summary.bytes)} in ${formatDuration(summary.elapsed_ms)} over ${summary.channels} channels`,
    `exit ${summary.exit_code}`,
  ];
  let content = parts.join('; ');
  if (summary.error) content += `; stopped: ${summary.error}`;
  if (content.length > CONTENT_LIMIT) content = `${content.slice(0, CONTENT_LIMIT - 1)}…`;
  return { content, allowed_mentions: { parse: [] } };
}
