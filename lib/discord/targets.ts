// Which channels a run archives: checks the token once (GET /users/@me) and the server, then either every
// readable channel and thread of the server (--all-channels) or the requested ones (expanding forums into their
// posts, and text channels into their threads). Permissions are computed first, so a channel the bot cannot
// read costs no message request (docs/discord-api.md#enumerating-channels-and-threads).

import type { APIGuild, APIUser } from 'discord-api-types/v10';
import { ACCESS_CODES, AccessError, channelSkipReason, hasCode, isDpsError, UsageError } from '../errors.js';
import type { ChannelContext } from '../types.js';
import { collect } from '../util/collect.js';
import type { DiscordClient } from './client.js';
import {
  channelObjects,
  THREAD_PARENT_TYPES,
  describeChannel,
  listActiveThreads,
  listArchivedThreads,
  listChannels,
  loadGuildAccess,
  type ChannelEntry,
  type RawChannel,
} from './enumerate.js';
import { historyHint } from './history-size.js';
import type { HistoryHint } from './history-size.js';
import { READ_MESSAGE_HISTORY, computePermissions, isThreadType, type GuildAccess } from './permissions.js';

// One channel or thread to archive.
export interface ChannelTarget {
  context: ChannelContext;
  type: number;
  size?: HistoryHint; // how much history it has, when the channel object says (lib/discord/history-size.ts)
}

export interface ResolvedTargets {
  me: APIUser;
  guild: { id: string; name: string };
  channels: ChannelTarget[];
  denied: number; // requested channels that could not be read (reported as skipped events)
  skipped: number; // channels left out without it being an error: unreadable or NSFW under --all-channels, categories
}

// What resolution reads of a run's options (lib/options.ts fills them in).
export interface TargetOptions {
  guildId: string;
  channelIds: readonly string[];
  excludeChannelIds: ReadonlySet<string>;
  allChannels: boolean;
  threads: boolean;
  includeNsfw: boolean;
  failOnChannelError: boolean;
  channelConcurrency: number | 'auto';
}

// A channel left out, for the caller to report (the run prints it as a `skipped` event).
export interface SkippedChannel {
  context: ChannelContext;
  reason: 'no_access' | 'not_found' | 'nsfw' | 'not_a_message_channel';
  detail: string;
}

interface ResolveHooks {
  signal?: AbortSignal | undefined;
  log?: ((line: string) => void) | undefined;
  onSkipped?: ((skipped: SkippedChannel) => void) | undefined;
}

interface Run {
  client: DiscordClient;
  options: TargetOptions;
  hooks: ResolveHooks;
  guildRaw: APIGuild;
  out: Omit<ResolvedTargets, 'channels'>; // me, guild and the running counts
  seen: Set<string>; // ids already targeted or skipped
  active?: Promise<{ threads: RawChannel[]; joined: Set<string> }>;
}

// The targets of a run as they are found: the token and server are checked before this resolves; `channels`
// then yields each channel or thread once, in resolution order, so the first can be archived while threads are
// still being listed. `denied` and `skipped` are final once `channels` has ended.
export interface TargetStream {
  me: APIUser;
  guild: { id: string; name: string };
  channels: AsyncIterable<ChannelTarget>;
  readonly denied: number;
  readonly skipped: number;
}

// Checks the token and the server, then streams the channels to archive; throws AuthError / AccessError for the
// run-level failures (from `channels` too, for a single requested channel that cannot be read).
export async function openTargets(client: DiscordClient, options: TargetOptions, hooks: ResolveHooks = {}): Promise<TargetStream> {
  const { signal } = hooks;
  const me = await client.get<APIUser>('/users/@me', { signal, what: 'the token (GET /users/@me)' });
  const guildRaw = await client.get<APIGuild>(`/guilds/${options.guildId}`, { signal, what: `server ${options.guildId}` });
  const guild = { id: options.guildId, name: typeof guildRaw?.name === 'string' ? guildRaw.name : 'server' };
  const run: Run = { client, options, hooks, guildRaw, out: { me, guild, denied: 0, skipped: 0 }, seen: new Set() };
  return {
    me,
    guild,
    channels: options.allChannels ? allChannels(run) : requestedChannels(run),
    get denied() {
      return run.out.denied;
    },
    get skipped() {
      return run.out.skipped;
    },
  };
}

// Resolves the server and every channel to archive at once (what `openTargets` streams, collected).
export async function resolveTargets(client: DiscordClient, options: TargetOptions, hooks: ResolveHooks = {}): Promise<ResolvedTargets> {
  const targets = await openTargets(client, options, hooks);
  const channels = await collect(targets.channels);
  return { me: targets.me, guild: targets.guild, channels, denied: targets.denied, skipped: targets.skipped };
}

// --all-channels: every readable message channel and (with threads) every thread; one skipped event per
// unreadable or NSFW channel, nothing for their threads, nothing for categories.
async function* allChannels(run: Run): AsyncGenerator<ChannelTarget> {
  const { client, options, hooks, out } = run;
  const excluded = (id: string | null): boolean => id !== null && options.excludeChannelIds.has(id);
  const access = loadGuildAccess(client, out.guild.id, { signal: hooks.signal, userId: out.me.id, guild: run.guildRaw });
  const names = new Map<string, string>();
  const dropped = new Set<string>(); // channels whose threads are not wanted either
  const types = new Map<string, number>(); // a thread's parent type: a forum's threads are posts (issue 25)
  const entries = listChannels(client, out.guild.id, {
    threads: options.threads,
    signal: hooks.signal,
    access,
    skipNsfw: !options.includeNsfw,
    threadsOf: (channel) => !excluded(channel.id),
    warn: hooks.log,
    listConcurrency: options.channelConcurrency === 'auto' ? 8 : Math.min(8, options.channelConcurrency),
  });
  for await (const entry of entries) {
    if (!entry.is_thread) names.set(entry.id, entry.name);
    if (!entry.is_thread) types.set(entry.id, entry.type);
    const parentDropped = entry.is_thread && (excluded(entry.parent_id) || dropped.has(entry.parent_id ?? ''));
    if (excluded(entry.id) || parentDropped || !entry.readable) {
      if (!entry.is_thread) dropped.add(entry.id);
      if (!entry.readable && !parentDropped && !excluded(entry.id) && entry.reason !== 'not_a_message_channel') skip(run, entry, names);
      continue;
    }
    if (!entry.threads_only) {
      const target = add(run, contextOf(run, entry, names.get(entry.parent_id ?? ''), types.get(entry.parent_id ?? '')), entry);
      if (target) yield target;
    }
  }
}

// --channel-id: each requested channel, checked against the server's channel list and the bot's permissions
// (falling back to asking Discord when those cannot be loaded); forums and text channels bring their threads.
async function* requestedChannels(run: Run): AsyncGenerator<ChannelTarget> {
  const { client, options, hooks, out } = run;
  const { signal } = hooks;
  const access = await optional(run, () => loadGuildAccess(client, out.guild.id, { signal, userId: out.me.id, guild: run.guildRaw }));
  const what = `the channels of server ${out.guild.id}`;
  const fetched = access && (await optional(run, () => client.get<unknown>(`/guilds/${out.guild.id}/channels`, { signal, what })));
  const listed = fetched === undefined ? undefined : channelObjects(fetched, what);
  const known = new Map<string, RawChannel>((listed ?? []).map((c) => [c.id, c]));
  const fetchChannel = async (id: string): Promise<RawChannel> => {
    const cached = known.get(id);
    if (cached) return cached;
    const channel = await client.get<RawChannel>(`/channels/${id}`, { signal, what: `channel ${id}` });
    if (channel.guild_id !== undefined && channel.guild_id !== out.guild.id) {
      throw new AccessError('DPS_NOT_FOUND', `channel ${id} belongs to server ${channel.guild_id}, not to --server-id ${out.guild.id}`);
    }
    known.set(id, channel);
    return channel;
  };
  const single = options.channelIds.length === 1;
  for (const channelId of options.channelIds) {
    if (options.excludeChannelIds.has(channelId) || run.seen.has(channelId)) continue;
    const base: ChannelContext = { guild_id: out.guild.id, guild_name: out.guild.name, channel_id: channelId, channel_name: channelId };
    try {
      const channel = await fetchChannel(channelId);
      const parent = isThreadType(channel.type) && channel.parent_id ? await fetchChannel(channel.parent_id).catch(rethrowAuth) : undefined;
      const entry = describeChannel(access, channel, parent);
      if (!entry.readable && entry.reason !== 'not_a_message_channel') {
        throw new AccessError('DPS_ACCESS', `no access to channel #${entry.name} (${channelId}): ${entry.detail ?? entry.reason}`);
      }
      if (!entry.readable || (entry.threads_only && !options.threads)) {
        const detail = entry.threads_only
          ? `#${entry.name} is a forum/media channel: it holds only posts (threads), and threads are off`
          : `#${entry.name} (type ${entry.type}) holds no messages`;
        if (single) throw new UsageError(`channel ${channelId}: ${detail}`);
        run.seen.add(channelId);
        out.skipped++;
        hooks.log?.(`skipping channel ${channelId}: ${detail}`);
        hooks.onSkipped?.({ context: base, reason: 'not_a_message_channel', detail });
        continue;
      }
      const target = entry.threads_only ? undefined : add(run, contextOf(run, entry, parent?.name ?? channel.parent_id ?? undefined, parent?.type), entry);
      if (target) yield target;
      if (options.threads && THREAD_PARENT_TYPES.has(channel.type)) yield* threadsOf(run, channel, access);
    } catch (error) {
      if (!hasCode(error, ...ACCESS_CODES) || options.failOnChannelError || single) throw error;
      out.denied++;
      run.seen.add(channelId);
      hooks.log?.(`skipping channel ${channelId}: ${error.message}`);
      hooks.onSkipped?.({ context: base, reason: channelSkipReason(error), detail: error.message });
    }
  }
}

// The threads (or forum/media posts) of one requested channel: active ones, then archived public and private.
// A listing the bot may not make is reported and skipped; it never fails the channel.
async function* threadsOf(run: Run, channel: RawChannel, access: GuildAccess | undefined): AsyncGenerator<ChannelTarget> {
  const { client, options, hooks } = run;
  const parentName = typeof channel.name === 'string' ? channel.name : channel.id;
  const consider = (thread: RawChannel, joined: boolean): ChannelTarget | undefined => {
    if (run.seen.has(thread.id) || options.excludeChannelIds.has(thread.id)) return undefined;
    const entry = describeChannel(access, thread, channel, { joined });
    if (entry.readable) return add(run, contextOf(run, entry, parentName, channel.type), entry);
    skip(run, entry, new Map([[channel.id, parentName]]));
    return undefined;
  };
  run.active ??= listActiveThreads(client, run.out.guild.id, { signal: hooks.signal }).catch((error: unknown) => {
    if (!hasCode(error, ...ACCESS_CODES)) throw error;
    hooks.log?.(`could not list the active threads of the server: ${error.message}`);
    return { threads: [], joined: new Set<string>() };
  });
  const active = await run.active;
  for (const thread of active.threads) {
    const target = thread.parent_id === channel.id ? consider(thread, active.joined.has(thread.id)) : undefined;
    if (target) yield target;
  }
  const perms = access ? computePermissions(access, channel) : READ_MESSAGE_HISTORY;
  try {
    for await (const { thread, joined } of listArchivedThreads(client, channel.id, perms, { signal: hooks.signal })) {
      const target = consider(thread, joined);
      if (target) yield target;
    }
  } catch (error) {
    if (!hasCode(error, ...ACCESS_CODES)) throw error;
    hooks.log?.(`could not list the archived threads of #${parentName} (${channel.id}): ${error.message}`);
  }
}

// A target the first time its id is seen (undefined after that: a thread listed twice is archived once).
function add(run: Run, context: ChannelContext, entry: ChannelEntry): ChannelTarget | undefined {
  if (run.seen.has(context.channel_id)) return undefined;
  run.seen.add(context.channel_id);
  const target: ChannelTarget = { context, type: entry.type };
  const size = historyHint(entry);
  if (size !== undefined) target.size = size;
  return target;
}

// One skipped event for a channel the bot cannot read (reason 'no_access', or 'nsfw' when filtered).
function skip(run: Run, entry: ChannelEntry, names: ReadonlyMap<string, string>): void {
  if (run.seen.has(entry.id)) return;
  run.seen.add(entry.id);
  run.out.skipped++;
  const context = contextOf(run, entry, names.get(entry.parent_id ?? ''));
  const detail = entry.detail ?? entry.reason ?? 'unreadable';
  run.hooks.log?.(`skipping ${entry.is_thread ? 'thread' : 'channel'} #${entry.name} (${entry.id}): ${detail}`);
  run.hooks.onSkipped?.({ context, reason: entry.reason === 'nsfw' ? 'nsfw' : 'no_access', detail });
}

// The context of a channel; threads also carry their parent, for the <Parent>/threads/<Thread> layout.
function contextOf(run: Run, entry: ChannelEntry, parentName: string | undefined, parentType?: number): ChannelContext {
  const { guild } = run.out;
  const context: ChannelContext = { guild_id: guild.id, guild_name: guild.name, channel_id: entry.id, channel_name: entry.name };
  if (entry.is_thread && entry.parent_id) {
    context.parent_id = entry.parent_id;
    context.parent_name = parentName ?? entry.parent_id;
    if (parentType !== undefined) context.parent_type = parentType; // a forum post or a thread (issue 25)
  }
  return context;
}

// A best-effort lookup: undefined when Discord refuses it (the run then asks per channel); auth failures and
// aborts still stop the run.
async function optional<T>(run: Run, load: () => Promise<T>): Promise<T | undefined> {
  try {
    return await load();
  } catch (error) {
    rethrowAuth(error);
    run.hooks.log?.(`could not check permissions in advance: ${error instanceof Error ? error.message : String(error)}`);
    return undefined;
  }
}

function rethrowAuth(error: unknown): undefined {
  if (!isDpsError(error) || hasCode(error, 'DPS_AUTH', 'DPS_ABORTED', 'DPS_RATE_LIMIT_BUDGET')) throw error;
  return undefined;
}
