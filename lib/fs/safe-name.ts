// Turning names that Discord users chose (servers, channels, file names) into path components that are valid,
// harmless and identical on Windows, macOS and Linux, and joining them without ever leaving the archive root.

import path from 'node:path';
import { DownloadError, UsageError } from '../errors.js';
import type { MediaItem } from '../types.js';

// Characters no portable file name may contain: Windows' reserved set (which includes '/'), NUL and control
// characters, and Unicode direction overrides (they make `evil‮gnp.exe` display as `evilexe.png`).
const FORBIDDEN = /[/\\:*?"<>|\u202a-\u202e\u2066-\u2069]/g;
// NUL, the other C0 controls and DEL (U+0000-U+001F, U+007F); C1 controls (U+0080-U+009F) are left as they are.
const CONTROL = /\p{Cc}/gu;
const controlToUnderscore = (c: string): string => (c.charCodeAt(0) < 0x80 ? '_' : c);

// A surrogate half without its partner would be written as U+FFFD by some systems and rejected by others.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

// Device names Windows reserves in every directory, with or without an extension (`CON.jpg`, `com¹.tar.gz`).
const RESERVED = /^(con|prn|aux|nul|conin\$|conout\$|com[0-9¹²³]|lpt[0-9¹²³])$/i;

// Names our own temp-file sweep would delete (see atomic-write.ts); a user file must never look like one.
const TEMP_SUFFIX = /\.dps-tmp$/i;

// Longest extension (with its dot) that truncation keeps intact.
const MAX_EXTENSION_BYTES = 16;

const utf8 = (text: string): number => Buffer.byteLength(text, 'utf8');

// Split a file name into its name and its last extension (without the dot); dotfiles have no extension.
export function splitExtension(filename: string): { name: string; ext: string } {
  const dot = filename.lastIndexOf('.');
  if (dot <= 0 || dot === filename.length - 1) return { name: filename, ext: '' };
  return { name: filename.slice(0, dot), ext: filename.slice(dot + 1) };
}

// Make one path component safe everywhere: no separators or forbidden characters, no `.`/`..`/empty names,
// no Windows device names, no trailing dots or spaces, NFC, and at most `maxBytes` of UTF-8 (keeping the
// extension when it is short). Deterministic, and idempotent for the same `maxBytes`.
export function sanitizeComponent(name: string, maxBytes = 120): string {
  if (!Number.isInteger(maxBytes) || maxBytes < 1) throw new RangeError(`maxBytes must be a positive integer: ${maxBytes}`);
  let out = name.normalize('NFC').replace(LONE_SURROGATE, '_').replace(FORBIDDEN, '_').replace(CONTROL, controlToUnderscore);
  // Each step is idempotent; a later one (truncation, the `_` prefix) can re-expose an earlier concern,
  // so repeat until nothing changes. Two rounds always suffice; four is a safe bound.
  for (let round = 0; round < 4; round++) {
    const next = cleanOnce(out, maxBytes);
    if (next === out) return out;
    out = next;
  }
  return out;
}

function cleanOnce(name: string, maxBytes: number): string {
  let out = trimEnds(truncate(name, maxBytes));
  if (out === '') return '_';
  if (TEMP_SUFFIX.test(out)) out = `${out.slice(0, -'.dps-tmp'.length)}_dps-tmp`;
  if (isReserved(out)) out = `_${out}`;
  return out;
}

// Windows drops trailing dots and spaces (so `a.` and `a` collide) and leading spaces confuse everyone.
function trimEnds(name: string): string {
  return name.replace(/^ +/, '').replace(/[. ]+$/, '');
}

function isReserved(name: string): boolean {
  const dot = name.indexOf('.');
  const base = (dot === -1 ? name : name.slice(0, dot)).replace(/ +$/, '');
  return RESERVED.test(base);
}

// Cut to `maxBytes` of UTF-8 on a code point boundary, keeping a short last extension when there is room.
function truncate(name: string, maxBytes: number): string {
  if (utf8(name) <= maxBytes) return name;
  const { name: stem, ext } = splitExtension(name);
  const suffix = ext === '' ? '' : `.${ext}`;
  const suffixBytes = utf8(suffix);
  if (suffix !== '' && suffixBytes <= MAX_EXTENSION_BYTES && suffixBytes < maxBytes) {
    const head = trimEnds(cutBytes(stem, maxBytes - suffixBytes));
    if (head !== '') return head + suffix;
  }
  return cutBytes(name, maxBytes);
}

function cutBytes(text: string, maxBytes: number): string {
  let out = '';
  let bytes = 0;
  for (const codePoint of text) {
    const size = utf8(codePoint);
    if (bytes + size > maxBytes) break;
    out += codePoint;
    bytes += size;
  }
  // A zero-width joiner left at the end would glue the next thing we append to a half emoji.
  return out.replace(/\u200d+$/, '');
}

// The placeholders a file name or folder pattern may use, with what they expand to (shown by --help and the
// README). In a thread, the channel is the thread itself (its id is the events' channel_id); {parent} and
// {thread} are empty outside threads.
export const namePlaceholders = {
  date: 'message date, YYYY-MM-DD (UTC)',
  time: 'message time, HHMMSS (UTC)',
  message_id: 'message id',
  attachment_id: 'attachment id (or a stable id for embeds and stickers)',
  filename: 'file name as posted, with extension',
  name: 'file name as posted, without extension',
  ext: 'extension, without the dot',
  author_id: 'author user id',
  author: 'author user name',
  channel_id: 'channel id',
  guild_id: 'server id',
  index: 'position of the file within its message, from 0',
  source: 'attachment, forward, embed, component or sticker',
  year: 'message year, YYYY (UTC)',
  month: 'message month, MM (UTC)',
  guild: 'server name',
  channel: 'channel name (in a thread: the thread)',
  parent: "a thread's parent channel name (empty outside threads)",
  parent_id: "a thread's parent channel id (empty outside threads)",
  thread: 'thread name (empty outside threads)',
  thread_id: 'thread id (empty outside threads)',
} as const;

// One placeholder name, e.g. `date` for `{date}`.
export type NamePlaceholder = keyof typeof namePlaceholders;

// Values for each placeholder; missing ones render as the empty string.
export type NameVars = Readonly<Partial<Record<NamePlaceholder, string | undefined>>>;

const PLACEHOLDER = /\{([^{}]*)\}/g;

function isPlaceholder(name: string): name is NamePlaceholder {
  return Object.hasOwn(namePlaceholders, name);
}

const validPatterns = new Set<string>(); // patterns already checked (renderName runs once per file)

// Reject a pattern with unknown placeholders (the CLI calls this before a run starts); `what` names the pattern.
export function validatePattern(pattern: string, what = 'name pattern'): void {
  if (validPatterns.has(pattern)) return;
  const unknown = [...pattern.matchAll(PLACEHOLDER)].map((m) => m[1] ?? '').filter((name) => !isPlaceholder(name));
  if (unknown.length > 0) {
    const known = Object.keys(namePlaceholders)
      .map((name) => `{${name}}`)
      .join(', ');
    const listed = [...new Set(unknown)].map((name) => `{${name}}`).join(', ');
    throw new UsageError(`unknown placeholder ${listed} in ${what} "${pattern}"; known placeholders: ${known}`);
  }
  if (validPatterns.size < 64) validPatterns.add(pattern);
}

// Expand a file name pattern and sanitise the result as ONE component: a `/` from the pattern or a value
// becomes `_`, so a pattern can never create subdirectories.
export function renderName(pattern: string, vars: NameVars, maxBytes = 120): string {
  validatePattern(pattern);
  const rendered = pattern.replace(PLACEHOLDER, (_match, name: string) => (isPlaceholder(name) ? (vars[name] ?? '') : ''));
  return sanitizeComponent(rendered, maxBytes);
}

// The name a colliding file gets: `suffix` (e.g. `_<attachment id>`, `_<id>_2`) inserted before the extension
// of an already sanitised and length-cut name, the stem cut to make room, so the suffix always survives the
// length limit whatever the pattern rendered. Sanitised like every name (idempotent).
export function suffixName(name: string, suffix: string, maxBytes = 120): string {
  const { name: stem, ext } = splitExtension(name);
  const tail = `${suffix}${ext !== '' && utf8(ext) < MAX_EXTENSION_BYTES ? `.${ext}` : ''}`;
  const head = ext !== '' && utf8(ext) < MAX_EXTENSION_BYTES ? stem : name;
  const room = Math.max(0, maxBytes - utf8(tail));
  return sanitizeComponent(`${cutBytes(head, room)}${tail}`, maxBytes);
}

// A name shared by two files told apart by the attachment id before the extension: `a_<id>.png` (n = 1), then
// `a_<id>_<n>.png`. The one rule for a message's twin names (stages/flatten.ts) and a taken path (stages/claim-path.ts).
export function withAttachmentId(name: string, attachmentId: string, n = 1, maxBytes = 120): string {
  return suffixName(name, n <= 1 ? `_${attachmentId}` : `_${attachmentId}_${n}`, maxBytes);
}

// The placeholder values of one media item, so every caller formats dates and names the same way.
export function nameVars(item: MediaItem): Record<NamePlaceholder, string> {
  const date = new Date(item.timestamp);
  const iso = (Number.isNaN(date.getTime()) ? new Date(0) : date).toISOString(); // a malformed timestamp must not crash the run
  const { name, ext } = splitExtension(item.unique_name);
  const { context } = item;
  const thread = context.parent_id !== undefined && context.parent_id !== '';
  return {
    date: iso.slice(0, 10),
    time: iso.slice(11, 19).replaceAll(':', ''),
    message_id: item.message_id,
    attachment_id: item.attachment_id,
    filename: item.unique_name,
    name,
    ext,
    author_id: item.author_id ?? '',
    author: item.author_name ?? '',
    channel_id: context.channel_id,
    guild_id: context.guild_id,
    index: String(item.index),
    source: item.source,
    year: iso.slice(0, 4),
    month: iso.slice(5, 7),
    guild: context.guild_name,
    channel: context.channel_name,
    parent: thread ? (context.parent_name ?? '') : '',
    parent_id: thread ? (context.parent_id ?? '') : '',
    thread: thread ? context.channel_name : '',
    thread_id: thread ? context.channel_id : '',
  };
}

// Join components (each sanitised) under root and prove the result is strictly inside it.
export function resolveInside(root: string, ...components: string[]): string {
  const base = path.resolve(root);
  // 255 bytes is the per-component limit of common file systems; already-sanitised parts pass unchanged.
  const target = path.join(base, ...components.map((part) => sanitizeComponent(part, 255)));
  const rel = path.relative(base, target);
  if (rel === '' || rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) {
    throw new DownloadError(`refusing to write ${target}: not inside ${base}`, { retryable: false });
  }
  return target;
}

// A folder name that stays unique when two servers or channels share a name: `<name>_<id>`.
export function folderName(name: string, id: string): string {
  return `${sanitizeComponent(name, 80)}_${sanitizeComponent(id, 40)}`;
}

// The placeholders that only depend on an item's channel: a folder pattern made of these alone is the same for
// every item of a channel (claim-path.ts works it out once per channel).
const CONTEXT_PLACEHOLDERS: ReadonlySet<string> = new Set(['guild', 'guild_id', 'channel', 'channel_id', 'parent', 'parent_id', 'thread', 'thread_id']);

// A --path-pattern split into its folders (empty and `.` components dropped), with what its placeholders need.
interface FolderPattern {
  components: ReadonlyArray<{ text: string; placeholders: number }>;
  perItem: boolean; // some placeholder depends on the item (date, author, ...), not only on its channel
}

const folderPatterns = new Map<string, FolderPattern>(); // compiled patterns (a run has one)

// Reject a --path-pattern that could not be a folder inside --out: unknown placeholders, an absolute path (a
// leading / or \, a drive letter), a `..` folder, or a backslash (folders are separated by / on every system).
// The rendered result is made safe whatever the pattern (renderFolder); this turns a mistake into a clear usage error.
export function validatePathPattern(pattern: string): void {
  validatePattern(pattern, 'path pattern');
  if (/^[/\\]/.test(pattern) || /^[A-Za-z]:/.test(pattern)) {
    throw new UsageError(`--path-pattern is a path inside --out and cannot be absolute, got "${pattern}"`);
  }
  if (pattern.includes('\\')) throw new UsageError(`--path-pattern separates folders with /, not \\, got "${pattern}"`);
  if (pattern.split('/').includes('..')) throw new UsageError(`--path-pattern cannot hold a .. folder (the archive stays inside --out), got "${pattern}"`);
}

function compileFolderPattern(pattern: string): FolderPattern {
  let compiled = folderPatterns.get(pattern);
  if (compiled !== undefined) return compiled;
  validatePathPattern(pattern);
  const names = [...pattern.matchAll(PLACEHOLDER)].map((m) => m[1] ?? '');
  compiled = {
    components: pattern
      .split('/')
      .filter((text) => text !== '' && text !== '.')
      .map((text) => ({ text, placeholders: [...text.matchAll(PLACEHOLDER)].length })),
    perItem: names.some((name) => !CONTEXT_PLACEHOLDERS.has(name)),
  };
  if (folderPatterns.size < 64) folderPatterns.set(pattern, compiled);
  return compiled;
}

// Whether a folder pattern renders differently for two items of one channel (it names a date, an author, ...).
export function folderPatternPerItem(pattern: string): boolean {
  return compileFolderPattern(pattern).perItem;
}

// Expand a --path-pattern into the folder under `out` it names: `/` separates folders; each folder is expanded
// and sanitised like a file name (a `/` in a value is `_`, `..` becomes `_`, so a value never adds or leaves a
// folder); a folder whose placeholders all render empty ({thread} outside threads) is left out, and a pattern
// that leaves every folder out names `out` itself. The result is proven inside `out` (resolveInside).
export function renderFolder(out: string, pattern: string, vars: NameVars): string {
  const parts: string[] = [];
  for (const { text, placeholders } of compileFolderPattern(pattern).components) {
    let filled = placeholders === 0; // literal text always makes its folder
    const rendered = text.replace(PLACEHOLDER, (_match, name: string) => {
      const value = isPlaceholder(name) ? (vars[name] ?? '') : '';
      if (value !== '') filled = true;
      return value;
    });
    if (filled) parts.push(sanitizeComponent(rendered));
  }
  return parts.length === 0 ? path.resolve(out) : resolveInside(out, ...parts);
}
