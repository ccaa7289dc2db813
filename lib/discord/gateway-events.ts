// What a Gateway dispatch means for one followed server: the events `dps follow` acts on (a message, a channel
// or thread to follow or forget, a new session), nothing for other servers and other event types, and the
// one dispatch that ends the run (the bot removed from the server). Payloads are read defensively: a partial
// MESSAGE_UPDATE or a channel without an id is tolerated or ignored, never trusted blindly
// (docs/discord-api.md, "Gateway").

import type { APIChannel, APIMessage } from 'discord-api-types/v10';
import { AccessError } from '../errors.js';

// One event for the consumer of the Gateway (lib/discord/gateway.ts).
export type GatewayEvent =
  // A session began (resumed false: a NEW session, events may have been missed, so the caller catches up every
  // channel through REST; the first event is one of these) or an interrupted one was resumed with nothing lost.
  | { type: 'ready'; resumed: boolean }
  // MESSAGE_CREATE (update false) or MESSAGE_UPDATE (update true) in the followed server. An update may carry
  // only some fields (always id and channel_id).
  | { type: 'message'; message: APIMessage; update: boolean }
  // A channel or thread of the server: created true for CHANNEL_CREATE / THREAD_CREATE; false for updates and
  // for the channels GUILD_CREATE and THREAD_LIST_SYNC list (each has guild_id set).
  | { type: 'channel'; channel: APIChannel; created: boolean }
  // CHANNEL_DELETE / THREAD_DELETE: stop following it (its archive stays).
  | { type: 'channel_gone'; channel_id: string; parent_id?: string }
  // The client dropped events (its buffer was full): the caller catches up through REST.
  | { type: 'gap'; why: string };

// A dispatch as the client hands it over, read as untyped data.
export interface RawDispatch {
  t: string | null;
  s: number | null;
  d: unknown;
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isId(value: unknown): value is string {
  return typeof value === 'string' && /^\d{1,20}$/.test(value);
}

// The events a dispatch yields for server `guildId` (none for other servers and other types). Throws an
// AccessError for GUILD_DELETE of the server without `unavailable` (the bot was removed or the server deleted).
export function mapDispatch(dispatch: RawDispatch, guildId: string): GatewayEvent[] {
  const d = dispatch.d;
  if (!isObject(d)) return [];
  switch (dispatch.t) {
    case 'MESSAGE_CREATE':
    case 'MESSAGE_UPDATE':
      if (d.guild_id !== guildId || !isId(d.id) || !isId(d.channel_id)) return [];
      return [{ type: 'message', message: d as unknown as APIMessage, update: dispatch.t === 'MESSAGE_UPDATE' }];
    case 'CHANNEL_CREATE':
    case 'CHANNEL_UPDATE':
    case 'THREAD_CREATE':
    case 'THREAD_UPDATE':
      if (d.guild_id !== guildId || !isId(d.id)) return [];
      return [{ type: 'channel', channel: d as unknown as APIChannel, created: dispatch.t.endsWith('_CREATE') }];
    case 'CHANNEL_DELETE':
    case 'THREAD_DELETE': {
      if (d.guild_id !== guildId || !isId(d.id)) return [];
      const gone: GatewayEvent = { type: 'channel_gone', channel_id: d.id };
      if (isId(d.parent_id)) gone.parent_id = d.parent_id;
      return [gone];
    }
    case 'GUILD_CREATE':
      if (d.id !== guildId) return [];
      return [...listed(d.channels, guildId), ...listed(d.threads, guildId)];
    case 'THREAD_LIST_SYNC':
      if (d.guild_id !== guildId) return [];
      return listed(d.threads, guildId);
    case 'GUILD_DELETE':
      if (d.id !== guildId || d.unavailable === true) return [];
      throw new AccessError('DPS_ACCESS', `the bot was removed from server ${guildId} (GUILD_DELETE): add it to the server again to follow it`);
    default:
      return [];
  }
}

// The channels or threads a GUILD_CREATE or THREAD_LIST_SYNC lists, each with the server's id (GUILD_CREATE's
// channels have none of their own).
function listed(list: unknown, guildId: string): GatewayEvent[] {
  if (!Array.isArray(list)) return [];
  const events: GatewayEvent[] = [];
  for (const item of list) {
    if (!isObject(item) || !isId(item.id)) continue;
    events.push({ type: 'channel', channel: { ...item, guild_id: guildId } as unknown as APIChannel, created: false });
  }
  return events;
}

// True when a READY lists server `guildId` among the bot's servers (available or not).
export function readyHasGuild(ready: unknown, guildId: string): boolean {
  if (!isObject(ready) || !Array.isArray(ready.guilds)) return true; // a READY without its list proves nothing
  return ready.guilds.some((guild) => isObject(guild) && guild.id === guildId);
}
