// What a run tells people besides the files' own events: a long rate-limit wait, a bot that lacks the Message
// Content intent, a download about to be retried. Each is a stderr line, and the first two a `warning` event.

import type { DiscordClient } from './discord/client.js';
import { detectMessageContentIntent } from './discord/intent.js';
import { isoSecond, longWaitLine } from './discord/long-wait.js';
import type { RateLimitWait } from './discord/long-wait.js';
import type { ArchiveHooks } from './options.js';
import type { DpsEvent } from './output/events.js';
import type { RetryNotice } from './stages/fetch.js';
import type { ChannelContext } from './types.js';

// A first page that looks stripped: the returned function asks Discord, once per run, whether the Message
// Content intent is off, and warns if it is.
export function intentCheck(client: DiscordClient, hooks: ArchiveHooks, signal: AbortSignal): (context: ChannelContext) => void {
  let asked = false;
  return (context) => {
    if (asked) return;
    asked = true;
    void detectMessageContentIntent(client, { signal }).then(
      (enabled) => {
        if (enabled !== false) return;
        const detail =
          'the bot lacks the Message Content intent, so Discord sends every message without attachments: enable "Message Content Intent" ' +
          'under Bot -> Privileged Gateway Intents in the Developer Portal, then re-run with --from-start';
        hooks.log?.(`warning: ${detail}`);
        void hooks.emit?.({ event: 'warning', code: 'message_content_intent', channel_id: context.channel_id, guild_id: context.guild_id, detail });
      },
      () => undefined,
    );
  };
}

// A long rate-limit wait (over --notice-wait): one stderr line and a `warning` event (code rate_limited).
export function announceWait(hooks: ArchiveHooks, wait: RateLimitWait): void {
  const line = longWaitLine(wait);
  hooks.log?.(line);
  const event: DpsEvent = {
    event: 'warning',
    code: 'rate_limited',
    detail: `${line}: Discord asked for it (Retry-After or an exhausted bucket)`,
    scope: wait.scope,
    wait_ms: wait.waitMs,
    until: isoSecond(wait.until),
  };
  if (wait.route !== undefined) event.route = wait.route;
  void hooks.emit?.(event);
}

// "retrying a.png (message 123): http_503 (CDN answered 503), attempt 2 of 6"
export function retryLine(retry: RetryNotice): string {
  return `retrying ${retry.item.filename} (message ${retry.item.message_id}): ${retry.reason} (${retry.detail}), attempt ${retry.attempt} of ${retry.attempts}`;
}
