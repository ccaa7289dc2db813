// (inside fetch, before any download) Where an item's file goes, and the claim that makes the path its own: a
// path is only ever written by the holder of its claim, so two attachments never share a file whatever the
// name pattern. A taken name moves the item to the next candidate: the attachment id before the extension,
// then a counter after the id.

import { DownloadError } from '../errors.js';
import { folderName, folderPatternPerItem, nameVars, renderFolder, renderName, resolveInside, withAttachmentId } from '../fs/safe-name.js';
import type { NameVars } from '../fs/safe-name.js';
import type { Store } from '../store/store.js';
import type { ChannelContext, MediaItem } from '../types.js';

// What naming needs: the absolute --out, the --name-pattern, the --path-pattern (undefined: the default
// layout), and the store that holds the claims.
export interface NamingOptions {
  out: string;
  namePattern: string;
  pathPattern?: string | undefined;
  store: Store;
}

// What an item's folder depends on: --out, and --path-pattern (undefined: the default layout).
export type FolderOptions = Pick<NamingOptions, 'out' | 'pathPattern'>;

// How many names an item tries before it gives up (the id, then a counter: only hostile folders get far).
const MAX_CANDIDATES = 1000;

// Folders already worked out, per channel context (one object per channel for a whole run), output root and
// path pattern.
const folders = new WeakMap<ChannelContext, { out: string; pattern: string | undefined; folder: string }>();

// The folder of an item: by default <out>/<Server>_<id>/<Channel>_<id>[/threads/<Thread>_<id>], else the
// --path-pattern rendered for it (safe-name.ts renderFolder). Every step that needs the folder (the folder turn,
// the claim, adoption, a dry run) asks here, so they agree. A string is the default layout under that root.
// Worked out once per channel unless the pattern names something of the item itself (a date, an author).
export function itemFolder(where: string | FolderOptions, item: MediaItem, vars?: NameVars): string {
  const out = typeof where === 'string' ? where : where.out;
  const pattern = typeof where === 'string' ? undefined : where.pathPattern;
  if (pattern !== undefined && folderPatternPerItem(pattern)) return renderFolder(out, pattern, vars ?? nameVars(item));
  const { context } = item;
  const known = folders.get(context);
  if (known !== undefined && known.out === out && known.pattern === pattern) return known.folder;
  const folder = pattern === undefined ? folderOf(out, context) : renderFolder(out, pattern, vars ?? nameVars(item));
  folders.set(context, { out, pattern, folder });
  return folder;
}

function folderOf(out: string, context: ChannelContext): string {
  const parts = [folderName(context.guild_name, context.guild_id)];
  if (context.parent_id) parts.push(folderName(context.parent_name ?? 'channel', context.parent_id), 'threads');
  parts.push(folderName(context.channel_name, context.channel_id));
  return resolveInside(out, ...parts);
}

// Candidate n of a rendered name: the name itself, then the attachment id before its extension, then a
// counter after the id. Applied to the final, sanitised and length-cut name, so the suffix always survives.
export function candidateName(rendered: string, attachmentId: string, n: number): string {
  return n === 0 ? rendered : withAttachmentId(rendered, attachmentId, n);
}

// A path this attachment holds the claim of, and its candidate number (the next name to try if it is taken).
// fetch.ts claims it once, before the download, keeps it across retries and releases it at the end; write.ts
// moves it (moveClaim) when the name turns out to hold a file the state does not know.
export interface Claim {
  path: string;
  n: number;
}

// The first candidate path from `from` on that `owner` (an attachment id, or a reference key) can claim in the
// store. Claims compare case-folded, normalised paths (pathKey in store/store.ts). An attachment's own claim
// is persisted at once (batched), before its download: see Store.claimPath. Throws a DownloadError when no
// candidate is free.
export async function claimPath(item: MediaItem, options: NamingOptions, from = 0, owner = item.attachment_id): Promise<Claim> {
  const vars = nameVars(item);
  const folder = itemFolder(options, item, vars);
  const rendered = renderName(options.namePattern, vars);
  for (let n = from; n < MAX_CANDIDATES; n++) {
    const path = resolveInside(folder, candidateName(rendered, item.attachment_id, n));
    if (await options.store.claimPath(path, owner, owner === item.attachment_id)) return { path, n };
  }
  throw new DownloadError(`no free file name for ${item.filename} in ${folder} after ${MAX_CANDIDATES} tries`, { retryable: false });
}

// The claimed name holds a file the state does not know (never replaced): the claim is given up durably, so it
// never vouches for that file, and `claim` becomes the next free candidate's. Throws as claimPath does.
export async function moveClaim(item: MediaItem, claim: Claim, options: NamingOptions): Promise<void> {
  await options.store.dropClaim(claim.path, item.attachment_id);
  Object.assign(claim, await claimPath(item, options, claim.n + 1));
}

// The paths an earlier run may have given an item, unclaimed: its pattern's path, and the variant with its
// attachment id (candidate 1) that it gets when that path is another attachment's (adopt.ts looks at both).
export function candidatePaths(item: MediaItem, options: Pick<NamingOptions, 'out' | 'namePattern' | 'pathPattern'>): { path: string; suffixedPath: string } {
  const vars = nameVars(item);
  const folder = itemFolder(options, item, vars);
  const rendered = renderName(options.namePattern, vars);
  return {
    path: resolveInside(folder, candidateName(rendered, item.attachment_id, 0)),
    suffixedPath: resolveInside(folder, candidateName(rendered, item.attachment_id, 1)),
  };
}
