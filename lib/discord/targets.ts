// Which channels a run archives: checks the token once (GET /users/@me), the server, and each requested
// channel (it must exist, be readable, and belong to the server), before any message request is made.

import type { APIChannel, APIGuild, APIUser } from 'discord-api-types/v10';
import { AccessError, DpsError } from '../errors.js';
import { channelSkippedEvent } from '../output/events.js';
import type { DpsEvent } from '../output/events.js';
import type { NormalizedOptions } from '../options.js';
import type { ChannelContext } from '../types.js';
import type { DiscordClient } from './client.js';

// One channel or thread to archive.
export interface ChannelTarget {
  context: ChannelContext;
  type: number;
}

export interface ResolvedTargets {
  me: APIUser;
  guild: { id: string; name: string };
  channels: ChannelTarget[];
  denied: number; // requested channels that could not be read (reported as skipped events)
}

interface ResolveHooks {
  signal?: AbortSignal | undefined;
  log?: ((line: string) => void) | undefined;
  emit?: ((event: DpsEvent) => void) | undefined;
}

// Channel types whose history can be read with GET /channels/{id}/messages.
export const MESSAGE_CHANNEL_TYPES = new Set([0, 2, 5, 10, 11, 12, 13]);

// Resolves the server and the requested channels; throws AuthError / AccessError for the run-level failures.
export async function resolveTargets(client: DiscordClient, options: NormalizedOptions, hooks: ResolveHooks = {}): Promise<ResolvedTargets> {
  const { signal } = hooks;
  const me = await client.get<APIUser>('/users/@me', { signal, what: 'the token (GET /users/@me)' });
  const guildRaw = await client.get<APIGuild>(`/guilds/${options.guildId}`, { signal, what: `server ${options.guildId}` });
  const guild = { id: options.guildId, name: typeof guildRaw?.name === 'string' ? guildRaw.name : 'server' };
  const channels: ChannelTarget[] = [];
  let denied = 0;
  for (const channelId of options.channelIds) {
    if (options.excludeChannelIds.has(channelId)) continue;
    const base: ChannelContext = { guild_id: guild.id, guild_name: guild.name, channel_id: channelId, channel_name: channelId };
    try {
      const channel = await client.get<APIChannel>(`/channels/${channelId}`, { signal, what: `channel ${channelId}` });
      const guildId = (channel as { guild_id?: string }).guild_id;
      if (guildId !== undefined && guildId !== guild.id) {
        throw new AccessError('DPS_NOT_FOUND', `channel ${channelId} belongs to server ${guildId}, not to --server-id ${guild.id}`);
      }
      channels.push(await targetOf(client, guild, channel, signal));
    } catch (error) {
      if (!(error instanceof AccessError) || options.failOnChannelError || options.channelIds.length === 1) throw error;
      denied++;
      hooks.log?.(`skipping channel ${channelId}: ${error.message}`);
      hooks.emit?.(channelSkippedEvent(base, error.code === 'DPS_NOT_FOUND' ? 'not_found' : 'no_access', error.message));
    }
  }
  return { me, guild, channels, denied };
}

// The context of one channel object; threads also get their parent's name for the folder layout.
export async function targetOf(
  client: DiscordClient,
  guild: { id: string; name: string },
  channel: APIChannel,
  signal?: AbortSignal,
): Promise<ChannelTarget> {
  const name = typeof (channel as { name?: unknown }).name === 'string' ? (channel as { name: string }).name : channel.id;
  const context: ChannelContext = { guild_id: guild.id, guild_name: guild.name, channel_id: channel.id, channel_name: name };
  const parentId = (channel as { parent_id?: string | null }).parent_id;
  if ([10, 11, 12].includes(channel.type) && parentId) {
    context.parent_id = parentId;
    try {
      const parent = await client.get<APIChannel>(`/channels/${parentId}`, { signal, what: `channel ${parentId}` });
      context.parent_name = typeof (parent as { name?: unknown }).name === 'string' ? (parent as { name: string }).name : parentId;
    } catch (error) {
      if (!(error instanceof DpsError) || error.code === 'DPS_AUTH') throw error;
      context.parent_name = parentId;
    }
  }
  return { context, type: channel.type };
}
