// The MESSAGE_CONTENT intent: without it Discord returns messages with empty content, attachments, embeds and
// components (docs/discord-api.md#message-content-intent), so an archive would silently find nothing. Detect it, and notice it.

import { hasCode } from '../errors.js';
import type { DiscordClient } from './client.js';

const MESSAGE_CONTENT_FLAGS = (1 << 18) | (1 << 19); // GATEWAY_MESSAGE_CONTENT | GATEWAY_MESSAGE_CONTENT_LIMITED
const USER_MESSAGE_TYPES: ReadonlySet<number> = new Set([0, 19, 20, 23]); // default, reply, slash and context-menu commands

// Whether the application has the intent (GET /applications/@me flags); undefined when that cannot be
// told (user tokens, errors). Only an abort is thrown.
export async function detectMessageContentIntent(client: DiscordClient, options: { signal?: AbortSignal | undefined } = {}): Promise<boolean | undefined> {
  try {
    const app = await client.get<{ flags?: unknown }>('/applications/@me', { signal: options.signal, what: 'the application (GET /applications/@me)' });
    return typeof app?.flags === 'number' ? (app.flags & MESSAGE_CONTENT_FLAGS) !== 0 : undefined;
  } catch (error) {
    if (hasCode(error, 'DPS_ABORTED') || options.signal?.aborted) throw error;
    return undefined;
  }
}

interface MessageLike {
  type?: number;
  content?: string;
  author?: { id?: string } | null;
  mentions?: Array<{ id?: string }> | null;
  attachments?: unknown[] | null;
  embeds?: unknown[] | null;
  components?: unknown[] | null;
  sticker_items?: unknown[] | null;
  poll?: unknown;
  message_snapshots?: unknown[] | null;
}

const filled = (list: unknown[] | null | undefined): boolean => Array.isArray(list) && list.length > 0;

// No content, files, embeds, components or poll (the fields the intent empties); forwards are judged by their snapshot.
function blank(m: MessageLike): boolean {
  if (m.content || filled(m.attachments) || filled(m.embeds) || filled(m.components) || m.poll != null) return false;
  return (m.message_snapshots ?? []).every((s) => blank((s as { message?: MessageLike } | null)?.message ?? {}));
}

// True when a page looks stripped by a missing intent: it has user messages that are exempt from nothing (not by
// the bot, not mentioning it, no stickers) and every one of them is blank. Call it on a channel's first page.
export function looksLikeMissingIntent(messages: readonly MessageLike[], botId?: string): boolean {
  let candidates = 0;
  for (const m of messages) {
    if (m.type !== undefined && !USER_MESSAGE_TYPES.has(m.type)) continue; // system messages are blank anyway
    if (botId !== undefined && (m.author?.id === botId || (m.mentions ?? []).some((u) => u.id === botId))) continue;
    if (filled(m.sticker_items)) continue; // sticker-only messages are blank with the intent too
    if (!blank(m)) return false;
    candidates++;
  }
  return candidates > 0;
}
