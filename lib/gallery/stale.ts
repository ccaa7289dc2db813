// What a gallery run takes out of the gallery folder (README "Gallery"): the channels the state no longer holds
// (a state replaced or restored from an older copy) leave the index, their data files go, and so do the
// thumbnails no channel of the index shows any more. Only names the gallery itself writes are ever removed
// (`data/c-<snowflake>.js` of a channel the last index listed, `thumbs/<xx>/<sha256>.webp`); a channel outside
// this run's selection (--server-id, --channel-id) is never judged stale.

import { readdir, readFile, rm, rmdir } from 'node:fs/promises';
import path from 'node:path';
import type { IndexServer } from '../../web/data-types.js';
import { isSnowflake } from '../util/snowflake.js';

export interface GallerySelection {
  guildId?: string | undefined;
  channelIds?: readonly string[] | undefined;
}

// The channels of the last index that this run covers (its selection) but did not write: the state holds no
// saved file of theirs any more (a channel with one has a data file written or found up to date every run).
export function staleChannels(previous: readonly IndexServer[], written: ReadonlySet<string>, selection: GallerySelection): Set<string> {
  const only = selection.channelIds !== undefined && selection.channelIds.length > 0 ? new Set(selection.channelIds) : undefined;
  const stale = new Set<string>();
  for (const server of previous) {
    if (selection.guildId !== undefined && server.id !== selection.guildId) continue;
    for (const channel of server.channels) if (!written.has(channel.id) && (only === undefined || only.has(channel.id))) stale.add(channel.id);
  }
  return stale;
}

const THUMB_DIR = /^[0-9a-f]{2}$/;
const THUMB_FILE = /^([0-9a-f]{64})\.webp$/;

// Removes the stale channels' data files, then every thumbnail that neither `shown` (the sha256s this run's
// channels show) nor a kept channel's data file names; returns what it removed, relative to the gallery folder.
// When a kept channel's data file cannot be read, no thumbnail is removed (what it shows is unknown).
export async function removeStale(galleryDir: string, stale: ReadonlySet<string>, kept: readonly string[], shown: ReadonlySet<string>): Promise<string[]> {
  const removed: string[] = [];
  if (stale.size === 0) return removed;
  const referenced = new Set(shown);
  let complete = true;
  for (const id of kept) {
    const thumbs = isSnowflake(id) ? await thumbsOf(path.join(galleryDir, 'data', `c-${id}.js`)) : undefined;
    if (thumbs === undefined) complete = false;
    else for (const sha of thumbs) referenced.add(sha);
  }
  if (complete) removed.push(...(await removeThumbs(galleryDir, referenced)));
  for (const id of stale) {
    if (!isSnowflake(id)) continue; // an index edited by hand: its entry goes, no file is touched
    const data = `data/c-${id}.js`;
    await rm(path.join(galleryDir, data), { force: true });
    removed.push(data);
  }
  return removed;
}

// The sha256s (hex) of the thumbnails a channel's data file shows, or undefined when it cannot be read.
async function thumbsOf(file: string): Promise<string[] | undefined> {
  try {
    const text = (await readFile(file, 'utf8')).replace(/^\/\*[^\n]*\*\/\n/, '');
    const match = /^window\.dpsGallery\.channel\("\d+", ([\s\S]*)\);\n?$/.exec(text);
    if (!match) return undefined;
    const th = (JSON.parse(match[1] as string) as { items?: { th?: unknown } }).items?.th;
    if (!Array.isArray(th)) return undefined;
    return th.filter((t): t is string => typeof t === 'string').map((t) => Buffer.from(t, 'base64url').toString('hex'));
  } catch {
    return undefined;
  }
}

// Removes thumbs/<xx>/<sha256>.webp files whose sha256 is not referenced (and the folders left empty).
async function removeThumbs(galleryDir: string, referenced: ReadonlySet<string>): Promise<string[]> {
  const removed: string[] = [];
  const thumbs = path.join(galleryDir, 'thumbs');
  const dirs = await readdir(thumbs).catch(() => [] as string[]);
  for (const dir of dirs) {
    if (!THUMB_DIR.test(dir)) continue;
    const names = await readdir(path.join(thumbs, dir)).catch(() => [] as string[]);
    for (const name of names) {
      const sha = THUMB_FILE.exec(name)?.[1];
      if (sha === undefined || !sha.startsWith(dir) || referenced.has(sha)) continue;
      await rm(path.join(thumbs, dir, name), { force: true });
      removed.push(`thumbs/${dir}/${name}`);
    }
    await rmdir(path.join(thumbs, dir)).catch(() => undefined); // only when now empty
  }
  return removed;
}
