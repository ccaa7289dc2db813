// Targets of `dps retry-failed`: the channels of a server that have failed items in the state (optionally
// only the given ones), without enumerating the server again.

import type { APIGuild, APIUser } from 'discord-api-types/v10';
import type { DiscordClient } from './discord/client.js';
import type { ResolvedTargets } from './discord/targets.js';
import type { NormalizedOptions } from './options.js';
import type { Store } from './store/store.js';

export async function failedTargets(client: DiscordClient, store: Store, options: NormalizedOptions, signal?: AbortSignal): Promise<ResolvedTargets> {
  const me = await client.get<APIUser>('/users/@me', { signal, what: 'the token (GET /users/@me)' });
  const guildRaw = await client.get<APIGuild>(`/guilds/${options.guildId}`, { signal, what: `server ${options.guildId}` });
  const guild = { id: options.guildId, name: typeof guildRaw?.name === 'string' ? guildRaw.name : options.guildId };
  const wanted = new Set(options.channelIds);
  const channels = await failedChannels(store, guild, (id) => wanted.size === 0 || wanted.has(id), signal);
  return { me, guild, channels, denied: 0, skipped: 0 };
}

// The channels of a server with items in the retry queue, among those `include` accepts, as archive targets (their
// names from the state: a channel that was deleted can no longer be asked for its own).
export async function failedChannels(
  store: Store,
  guild: { id: string; name: string },
  include: (channelId: string) => boolean,
  signal?: AbortSignal,
): Promise<ResolvedTargets['channels']> {
  const channels: ResolvedTargets['channels'] = [];
  for await (const record of store.channels(signal)) {
    if (record.guild_id !== guild.id || record.failed <= 0 || !include(record.channel_id)) continue;
    const context: ResolvedTargets['channels'][number]['context'] = {
      guild_id: guild.id,
      guild_name: record.guild_name || guild.name,
      channel_id: record.channel_id,
      channel_name: record.channel_name,
    };
    if (record.parent_id) {
      context.parent_id = record.parent_id;
      context.parent_name = record.parent_name ?? (await store.getChannel(record.parent_id))?.channel_name ?? record.parent_id;
      if (record.parent_type !== undefined) context.parent_type = record.parent_type; // issue 25
    }
    channels.push({ context, type: 0 });
  }
  return channels;
}
