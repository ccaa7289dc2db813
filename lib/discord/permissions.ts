// The bot's effective permissions in a channel, computed locally (docs/discord-api.md#permission-computation),
// so channels it cannot read are skipped before any request: every 403 counts toward Discord's ban limit.

// Permission bits this tool cares about (DOCS permissions.mdx); Discord sends permissions as decimal strings.
export const ADMINISTRATOR = 1n << 3n;
export const VIEW_CHANNEL = 1n << 10n;
export const READ_MESSAGE_HISTORY = 1n << 16n;
export const CONNECT = 1n << 20n;
export const MANAGE_THREADS = 1n << 34n;
export const ALL_PERMISSIONS = (1n << 64n) - 1n;

// Channel types (DOCS channel.mdx) by name.
export const ChannelType = {
  TEXT: 0,
  VOICE: 2,
  CATEGORY: 4,
  ANNOUNCEMENT: 5,
  ANNOUNCEMENT_THREAD: 10,
  PUBLIC_THREAD: 11,
  PRIVATE_THREAD: 12,
  STAGE: 13,
  DIRECTORY: 14,
  FORUM: 15,
  MEDIA: 16,
} as const;

const THREAD_TYPES: ReadonlySet<number> = new Set([10, 11, 12]);
const VOICE_TYPES: ReadonlySet<number> = new Set([2, 13]);
const MESSAGE_TYPES: ReadonlySet<number> = new Set([0, 2, 5, 10, 11, 12, 13]);
const THREADS_ONLY_TYPES: ReadonlySet<number> = new Set([15, 16]);

// Whether a channel type is a thread (announcement, public or private).
export function isThreadType(type: number): boolean {
  return THREAD_TYPES.has(type);
}

// Whether a channel type holds only posts (forum, media): list its threads, never its /messages.
export function isThreadsOnlyType(type: number): boolean {
  return THREADS_ONLY_TYPES.has(type);
}

// A permission overwrite as the API sends it (type 0 role, 1 member; very old payloads used strings).
export interface Overwrite {
  id: string;
  type: number | string;
  allow: string;
  deny: string;
}

// Everything about a guild that the computation needs: who owns it, its roles, and the bot's roles.
export interface GuildAccess {
  guildId: string;
  ownerId: string;
  userId: string; // the bot (or user) whose permissions are computed
  roles: ReadonlyMap<string, bigint>; // role id -> permissions; the @everyone role's id is the guild id
  memberRoles: readonly string[]; // the member's roles, without @everyone
}

// The parts of a channel or thread the computation reads.
export interface PermissionChannel {
  type: number;
  permission_overwrites?: readonly Overwrite[] | undefined;
  member?: unknown; // a thread's member object: present when the bot has joined it
  joined?: boolean | undefined; // membership learnt elsewhere (the `members` list of a thread listing)
}

// Guild-level permissions: owner -> everything; @everyone | member roles; ADMINISTRATOR -> everything.
export function basePermissions(access: GuildAccess): bigint {
  if (access.ownerId === access.userId) return ALL_PERMISSIONS;
  let perms = access.roles.get(access.guildId) ?? 0n;
  for (const id of access.memberRoles) perms |= access.roles.get(id) ?? 0n;
  return (perms & ADMINISTRATOR) !== 0n ? ALL_PERMISSIONS : perms;
}

// Effective permissions in a channel. Threads take their parent's overwrites (pass `parent`); a private thread
// is invisible unless the bot joined it or has MANAGE_THREADS. No VIEW_CHANNEL means no permission at all.
export function computePermissions(access: GuildAccess, channel: PermissionChannel, parent?: PermissionChannel): bigint {
  const base = basePermissions(access);
  if (base === ALL_PERMISSIONS) return ALL_PERMISSIONS;
  const thread = isThreadType(channel.type);
  const perms = applyOverwrites(access, base, (thread ? parent?.permission_overwrites : channel.permission_overwrites) ?? []);
  if ((perms & VIEW_CHANNEL) === 0n) return 0n;
  if (channel.type === ChannelType.PRIVATE_THREAD) {
    const joined = channel.joined ?? (channel.member !== undefined && channel.member !== null);
    if (!joined && (perms & MANAGE_THREADS) === 0n) return 0n;
  }
  return perms;
}

// The overwrite steps: @everyone, then all the member's roles together, then the member itself.
function applyOverwrites(access: GuildAccess, base: bigint, overwrites: readonly Overwrite[]): bigint {
  let perms = base;
  const everyone = overwrites.find((o) => o.id === access.guildId);
  if (everyone) perms = (perms & ~bits(everyone.deny)) | bits(everyone.allow);
  let allow = 0n;
  let deny = 0n;
  for (const o of overwrites) {
    if (isRole(o) && o.id !== access.guildId && access.memberRoles.includes(o.id)) {
      allow |= bits(o.allow);
      deny |= bits(o.deny);
    }
  }
  perms = (perms & ~deny) | allow;
  const member = overwrites.find((o) => !isRole(o) && o.id === access.userId);
  if (member) perms = (perms & ~bits(member.deny)) | bits(member.allow);
  return perms;
}

function isRole(o: Overwrite): boolean {
  return o.type === 0 || o.type === 'role' || o.type === '0';
}

// A permission string (decimal) as bits; anything malformed counts as no permission.
export function bits(value: string | number | bigint | null | undefined): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? BigInt(value) : 0n;
  return typeof value === 'string' && /^[0-9]{1,20}$/.test(value) ? BigInt(value) : 0n;
}

// Why a channel's history cannot be archived.
export type UnreadableReason = 'no_view_channel' | 'no_read_message_history' | 'no_connect' | 'not_a_message_channel' | 'nsfw';

// Whether a channel can be archived, and if not why; `threads_only` marks forum/media channels.
export interface Readability {
  readable: boolean;
  reason?: UnreadableReason;
  detail?: string;
  threads_only?: boolean;
}

const DETAIL: Record<UnreadableReason, string> = {
  no_view_channel: 'missing VIEW_CHANNEL',
  no_read_message_history: 'missing READ_MESSAGE_HISTORY',
  no_connect: 'missing CONNECT (voice and stage channels need it to read their text chat)',
  not_a_message_channel: 'this channel type holds no messages',
  nsfw: 'age-restricted (NSFW) channel; pass --include-nsfw to archive it',
};

// Whether the bot can read a channel's history with these permissions (voice/stage also need CONNECT;
// categories and directories hold nothing; forum/media are readable for their posts only).
// NSFW channels count as unreadable only with `skipNsfw`.
export function readability(channel: { type: number; nsfw?: boolean | undefined }, perms: bigint, options: { skipNsfw?: boolean } = {}): Readability {
  const threadsOnly = isThreadsOnlyType(channel.type);
  const no = (reason: UnreadableReason): Readability => ({ readable: false, reason, detail: DETAIL[reason], ...(threadsOnly ? { threads_only: true } : {}) });
  if (!MESSAGE_TYPES.has(channel.type) && !threadsOnly) return no('not_a_message_channel');
  if ((perms & VIEW_CHANNEL) === 0n) return no('no_view_channel');
  if (VOICE_TYPES.has(channel.type) && (perms & CONNECT) === 0n) return no('no_connect');
  if ((perms & READ_MESSAGE_HISTORY) === 0n) return no('no_read_message_history');
  if (options.skipNsfw && channel.nsfw === true) return no('nsfw');
  return threadsOnly ? { readable: true, threads_only: true } : { readable: true };
}
