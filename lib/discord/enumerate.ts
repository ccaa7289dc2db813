// What a token can archive: its servers, each server's channels and threads (active, archived public, archived
// private), each marked readable or not from locally computed permissions, so that channels the bot cannot
// read cost no request at all (docs/discord-api.md#enumerating-channels-and-threads).

import { ACCESS_CODES, ApiError, hasCode } from '../errors.js';
import type { DiscordClient } from './client.js';
import {
  ALL_PERMISSIONS,
  MANAGE_THREADS,
  READ_MESSAGE_HISTORY,
  bits,
  computePermissions,
  isThreadType,
  readability,
  type GuildAccess,
  type Overwrite,
  type UnreadableReason,
} from './permissions.js';
import { compareSnowflakes, isDiscordId } from '../util/snowflake.js';

// A server the token is in (GET /users/@me/guilds); `permissions` is guild-level, without overwrites.
export interface GuildEntry {
  id: string;
  name: string;
  owner: boolean;
  permissions: string;
}

// Thread state as Discord reports it.
export interface ThreadMetadata {
  archived: boolean;
  archive_timestamp: string;
  auto_archive_duration?: number;
  locked?: boolean;
  create_timestamp?: string | null;
  invitable?: boolean;
}

// A channel or thread as the API sends it (only the fields used here).
export interface RawChannel {
  id: string;
  type: number;
  name?: string | null;
  guild_id?: string;
  parent_id?: string | null;
  position?: number;
  nsfw?: boolean;
  permission_overwrites?: Overwrite[];
  thread_metadata?: ThreadMetadata;
  member?: unknown;
  last_message_id?: string | null; // the newest message (text channels and threads; may name a deleted one)
  message_count?: number; // threads: messages in it, the first one excluded (approximate for old threads)
}

// One channel or thread of a server, readable or not: what `dps channels` prints, and what targets use.
export interface ChannelEntry {
  id: string;
  name: string;
  type: number;
  parent_id: string | null;
  guild_id: string;
  nsfw: boolean;
  position: number | null;
  readable: boolean;
  reason?: UnreadableReason;
  detail?: string;
  threads_only?: boolean; // forum/media: archive its posts (threads), never its /messages
  is_thread: boolean;
  archived?: boolean;
  thread_metadata?: ThreadMetadata;
  last_message_id?: string | null; // its newest message when Discord gives it, null when nothing was ever posted (lib/discord/history-size.ts)
  message_count?: number; // threads: how many messages Discord counts in it
}

interface Signal {
  signal?: AbortSignal | undefined;
}

export interface ListChannelsOptions extends Signal {
  threads: boolean;
  access?: GuildAccess | Promise<GuildAccess> | undefined; // already loaded or loading (saves three requests)
  skipNsfw?: boolean | undefined; // mark NSFW channels (and their threads) unreadable, reason 'nsfw'
  threadsOf?: ((channel: ChannelEntry) => boolean) | undefined; // which readable channels to list threads of
  warn?: ((line: string) => void) | undefined; // a channel whose threads could not be listed
  listConcurrency?: number | undefined; // parents whose archived threads are listed at once (default 8)
}

const PAGE = 200;
const THREAD_PAGE = 100;
// Channel types that can have threads (text, announcement, forum, media).
// Keeps the entries of an API channel/thread list that are channel objects (malformed data must not crash a run).
// A list that is not a list (a proxy's JSON, say) is an invalid response, never an empty server.
export function channelObjects(value: unknown, what = 'a channel list'): RawChannel[] {
  if (!Array.isArray(value)) throw new ApiError(`invalid response for ${what}: ${value === null ? 'null' : typeof value} instead of a list`);
  return value.filter(
    (c): c is RawChannel =>
      typeof c === 'object' && c !== null && typeof (c as { id?: unknown }).id === 'string' && typeof (c as { type?: unknown }).type === 'number',
  );
}

export const THREAD_PARENT_TYPES: ReadonlySet<number> = new Set([0, 5, 15, 16]);

// Every server the token is in, paging past 200 with `after` (bots can be in thousands).
export async function* listGuilds(client: DiscordClient, options: Signal = {}): AsyncGenerator<GuildEntry> {
  let after: string | undefined;
  for (;;) {
    options.signal?.throwIfAborted();
    const query: Record<string, string> = { limit: String(PAGE) };
    if (after !== undefined) query.after = after;
    const page = await client.get<Array<Partial<GuildEntry> & { id: string }>>('/users/@me/guilds', { query, signal: options.signal, what: 'the server list' });
    if (!Array.isArray(page)) throw new ApiError(`invalid response for the server list: ${page === null ? 'null' : typeof page} instead of a list`);
    for (const g of page) {
      yield { id: g.id, name: typeof g.name === 'string' ? g.name : g.id, owner: g.owner === true, permissions: String(g.permissions ?? '0') };
      if (after === undefined || compareSnowflakes(g.id, after) > 0) after = g.id;
    }
    if (page.length < PAGE) return;
  }
}

// The roles, owner and bot membership of a server: the inputs of computePermissions.
export async function loadGuildAccess(
  client: DiscordClient,
  guildId: string,
  options: Signal & { userId?: string | undefined; guild?: { owner_id?: string; roles?: unknown } | undefined } = {},
): Promise<GuildAccess> {
  const { signal } = options;
  const what = `server ${guildId}`;
  const guild = options.guild?.roles ? options.guild : await client.get<{ owner_id?: string; roles?: unknown }>(`/guilds/${guildId}`, { signal, what });
  const userId = options.userId ?? (await client.get<{ id: string }>('/users/@me', { signal, what: 'the token (GET /users/@me)' })).id;
  const member = await client.get<{ roles?: unknown }>(`/guilds/${guildId}/members/${userId}`, { signal, what: `the bot's membership of ${what}` });
  const roles = new Map<string, bigint>();
  for (const role of Array.isArray(guild.roles) ? (guild.roles as Array<{ id?: unknown; permissions?: unknown }>) : []) {
    if (typeof role.id === 'string') roles.set(role.id, bits(role.permissions as string));
  }
  const memberRoles = Array.isArray(member.roles) ? member.roles.filter((r): r is string => typeof r === 'string') : [];
  return { guildId, ownerId: String(guild.owner_id ?? ''), userId, roles, memberRoles };
}

// A channel or thread with its readability; threads are judged by their parent's overwrites (and take its
// NSFW flag). Without `access` (permissions unknown) only the channel type is judged.
export function describeChannel(
  access: GuildAccess | undefined,
  channel: RawChannel,
  parent?: RawChannel,
  options: { skipNsfw?: boolean | undefined; joined?: boolean | undefined } = {},
): ChannelEntry {
  const thread = isThreadType(channel.type);
  const nsfw = thread ? parent?.nsfw === true : channel.nsfw === true;
  const joined = options.joined === true || channel.member != null;
  const perms = access ? computePermissions(access, { ...channel, joined }, parent) : ALL_PERMISSIONS;
  const entry: ChannelEntry = {
    id: channel.id,
    name: typeof channel.name === 'string' ? channel.name : channel.id,
    type: channel.type,
    parent_id: channel.parent_id ?? null,
    guild_id: access?.guildId ?? channel.guild_id ?? '',
    nsfw,
    position: typeof channel.position === 'number' ? channel.position : null,
    ...readability({ type: channel.type, nsfw }, perms, { skipNsfw: options.skipNsfw ?? false }),
    is_thread: thread,
  };
  if (typeof channel.last_message_id === 'string' && isDiscordId(channel.last_message_id)) entry.last_message_id = channel.last_message_id;
  else if (channel.last_message_id === null) entry.last_message_id = null;
  if (thread && typeof channel.message_count === 'number' && Number.isSafeInteger(channel.message_count) && channel.message_count >= 0) {
    entry.message_count = channel.message_count;
  }
  if (thread && channel.thread_metadata) {
    entry.archived = channel.thread_metadata.archived === true;
    entry.thread_metadata = channel.thread_metadata;
  }
  return entry;
}

// The server's channels, then (with `threads`) the threads of its readable channels, each thread once.
export async function* listChannels(client: DiscordClient, guildId: string, options: ListChannelsOptions): AsyncGenerator<ChannelEntry> {
  const { signal } = options;
  // Permissions still loading (the caller has checked the token) load alongside the channel list: one round trip
  // less before the first channel. Otherwise they come first: a rejected token then costs one request, not two.
  const [access, listed] = await Promise.all([
    options.access ?? (await loadGuildAccess(client, guildId, { signal })),
    client.get<unknown>(`/guilds/${guildId}/channels`, { signal, what: `the channels of server ${guildId}` }),
  ]);
  const raw = channelObjects(listed, `the channels of server ${guildId}`);
  const parents = new Map<string, RawChannel>();
  const entries: ChannelEntry[] = [];
  for (const channel of raw) {
    if (isThreadType(channel.type)) continue; // the endpoint lists no threads; be safe if it ever does
    parents.set(channel.id, channel);
    const entry = describeChannel(access, channel, undefined, { skipNsfw: options.skipNsfw });
    entries.push(entry);
    yield entry;
  }
  if (!options.threads) return;
  const seen = new Set<string>();
  const threadEntry = (thread: RawChannel, joined: boolean): ChannelEntry | undefined => {
    if (seen.has(thread.id)) return undefined;
    seen.add(thread.id);
    return describeChannel(access, thread, parents.get(thread.parent_id ?? ''), { skipNsfw: options.skipNsfw, joined });
  };
  const active = await listActiveThreads(client, guildId, { signal }).catch((error: unknown) => {
    if (!hasCode(error, ...ACCESS_CODES)) throw error;
    options.warn?.(`could not list the active threads of server ${guildId}: ${error.message}`);
    return { threads: [], joined: new Set<string>() };
  });
  for (const thread of active.threads) {
    const entry = threadEntry(thread, active.joined.has(thread.id));
    if (entry) yield entry;
  }
  // Archived threads of several parents are listed at once (the shared client still paces every request);
  // they are yielded parent by parent, in channel order, so the result does not depend on timing.
  const parentsToList = entries.filter((parent) => parent.readable && THREAD_PARENT_TYPES.has(parent.type) && options.threadsOf?.(parent) !== false);
  const listArchived = async (parent: ChannelEntry): Promise<Array<{ thread: RawChannel; joined: boolean }>> => {
    const perms = computePermissions(access, parents.get(parent.id) ?? parent);
    const found: Array<{ thread: RawChannel; joined: boolean }> = [];
    try {
      for await (const listed of listArchivedThreads(client, parent.id, perms, { signal })) found.push(listed);
    } catch (error) {
      if (!hasCode(error, ...ACCESS_CODES)) throw error;
      options.warn?.(`could not list the archived threads of #${parent.name} (${parent.id}): ${error.message}`);
    }
    return found;
  };
  for await (const listed of inOrderAtMost(parentsToList, options.listConcurrency ?? 8, listArchived)) {
    for (const { thread, joined } of listed) {
      const entry = threadEntry(thread, joined);
      if (entry) yield entry;
    }
  }
}

// Runs `task` over `items` with at most `limit` running at once and yields the results in input order.
// A failure is thrown when its turn comes; the tasks still running are left to settle on their own.
async function* inOrderAtMost<T, R>(items: readonly T[], limit: number, task: (item: T) => Promise<R>): AsyncGenerator<R> {
  const running: Array<Promise<R>> = [];
  let next = 0;
  const start = (): void => {
    const promise = task(items[next++]!);
    promise.catch(() => undefined); // observed when its turn comes
    running.push(promise);
  };
  while (next < items.length && running.length < limit) start();
  while (running.length > 0) {
    const result = await running.shift()!;
    if (next < items.length) start();
    yield result;
  }
}

// GET /guilds/{id}/threads/active: the guild's unarchived threads the bot can see, and which it joined.
export async function listActiveThreads(client: DiscordClient, guildId: string, options: Signal = {}): Promise<{ threads: RawChannel[]; joined: Set<string> }> {
  const body = await client.get<ThreadList>(`/guilds/${guildId}/threads/active`, { signal: options.signal, what: `the active threads of server ${guildId}` });
  return { threads: channelObjects(body?.threads, `the active threads of server ${guildId}`), joined: joinedIds(body) };
}

interface ThreadList {
  threads?: RawChannel[];
  members?: Array<{ id?: string }>;
  has_more?: boolean;
}

function joinedIds(body: ThreadList): Set<string> {
  return new Set((body.members ?? []).map((m) => m.id).filter((id): id is string => typeof id === 'string'));
}

// A channel's archived threads: public ones, then private ones (all of them with MANAGE_THREADS +
// READ_MESSAGE_HISTORY, else only those the bot joined). `perms` are the bot's permissions in the channel.
export async function* listArchivedThreads(
  client: DiscordClient,
  channelId: string,
  perms: bigint,
  options: Signal = {},
): AsyncGenerator<{ thread: RawChannel; joined: boolean }> {
  if ((perms & READ_MESSAGE_HISTORY) === 0n) return;
  yield* archivedPages(client, `/channels/${channelId}/threads/archived/public`, 'timestamp', options.signal);
  if ((perms & MANAGE_THREADS) !== 0n) {
    yield* archivedPages(client, `/channels/${channelId}/threads/archived/private`, 'timestamp', options.signal);
  } else {
    yield* archivedPages(client, `/channels/${channelId}/users/@me/threads/archived/private`, 'id', options.signal);
  }
}

// Pages of an archived-threads route while `has_more`: `before` is the last thread's archive_timestamp
// (ISO8601) on the two /threads/archived routes, and the last thread's id on /users/@me/threads/archived.
async function* archivedPages(
  client: DiscordClient,
  route: `/${string}`,
  cursor: 'timestamp' | 'id',
  signal: AbortSignal | undefined,
): AsyncGenerator<{ thread: RawChannel; joined: boolean }> {
  let before: string | undefined;
  for (;;) {
    signal?.throwIfAborted();
    const query: Record<string, string> = { limit: String(THREAD_PAGE) };
    if (before !== undefined) query.before = before;
    const body = await client.get<ThreadList>(route, { query, signal, what: route.replace(/^\/channels\/(\d+)\/.*$/, 'the archived threads of channel $1') });
    const threads = channelObjects(body?.threads, route);
    const joined = joinedIds(body);
    for (const thread of threads) yield { thread, joined: joined.has(thread.id) || thread.member != null };
    const last = threads.at(-1);
    const next = cursor === 'id' ? last?.id : last?.thread_metadata?.archive_timestamp;
    if (!body.has_more || next === undefined || next === before) return;
    before = next;
  }
}

export { detectMessageContentIntent, looksLikeMissingIntent } from './intent.js';
