// `dps gallery`: the static site of what the state holds (README "Gallery"): thumbnails of the files no run has
// decoded yet, a data file per channel, the index, the page. Read-only for the archive; the state gains the
// decoded files' entries.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { AbortedError, ExitCode, isDpsError, UsageError } from '../errors.js';
import { DEFAULTS } from '../options.js';
import { openStore } from '../store/open.js';
import { isSnowflake } from '../util/snowflake.js';
import { writePage } from './assets.js';
import type { GalleryFile } from './channel-data.js';
import { channelData, GALLERY_DATA_VERSION, SIMILAR_DISTANCE } from './channel-data.js';
import { channelScript, indexScript, inputDigest, readInputDigest, relativeUrl, writeAtomic } from './data-files.js';
import type { GalleryIndex, IndexChannel, IndexServer } from '../../web/data-types.js';
import { decodeMissing, thumbPath } from './decode-missing.js';
import { removeStale, staleChannels } from './stale.js';
import type { GalleryEvent, GallerySummaryEvent } from './gallery-events.js';
import { fileKind, KIND, readChannels } from './records.js';
import type { GalleryChannel } from './records.js';

export interface GalleryOptions {
  state?: string | undefined;
  out?: string | undefined;
  // The gallery folder [<out>/gallery].
  galleryDir?: string | undefined;
  guildId?: string | undefined;
  channelIds?: readonly string[] | undefined;
  // Thumbnail worker threads (0, the default: in this thread, one file per core at once; bench/limits.md).
  workers?: number | undefined;
  // --out s3:// (issue 26, s3-site.ts): how dps gallery reaches the bucket, and each record's path mapped to its
  // place in the local staging folder (so the site links the objects relatively).
  s3Endpoint?: string | undefined;
  s3Region?: string | undefined;
  s3ForcePathStyle?: boolean | undefined;
  localPath?: ((recordPath: string) => string) | undefined;
}

export interface GalleryHooks {
  emit?: ((event: GalleryEvent) => void | Promise<void>) | undefined;
  signal?: AbortSignal | undefined;
}

// data/index.js's entries (shared with the page: web/data-types.ts).
export type { IndexChannel } from '../../web/data-types.js';

// What a channel's data file is made from besides its rows: the format and how channelData builds it. Change
// the last number whenever channelData's output changes for the same rows without a new GALLERY_DATA_VERSION, so
// the next run rewrites every data file.
const DATA_INPUT_FORMAT = `${GALLERY_DATA_VERSION}/${SIMILAR_DISTANCE}/1`;

// Ids typed on the command line: a one-line usage error shows the value.
export function checkSelection(options: { guildId?: string | undefined; channelIds?: readonly string[] | undefined }): void {
  const ids: Array<[string, string | undefined]> = [
    ['--server-id', options.guildId],
    ...(options.channelIds ?? []).map((id): [string, string] => ['--channel-id', id]),
  ];
  for (const [flag, id] of ids) {
    if (id !== undefined && (!isSnowflake(id) || id === '0'))
      throw new UsageError(`${flag} must be a Discord id (a number like 123456789012345678), got ${JSON.stringify(id)}`);
  }
}

export async function runGallery(options: GalleryOptions, hooks: GalleryHooks = {}): Promise<GallerySummaryEvent> {
  const started = Date.now();
  checkSelection(options);
  const out = path.resolve(options.out ?? DEFAULTS.out);
  const galleryDir = path.resolve(options.galleryDir ?? path.join(out, 'gallery'));
  const emit = async (event: GalleryEvent): Promise<void> => void (await hooks.emit?.(event));
  const store = await openStore(options.state ?? DEFAULTS.state, { signal: hooks.signal, mustExist: true });
  let warnings = 0;
  let summary: GallerySummaryEvent;
  try {
    const channels = await readChannels(store, { guildId: options.guildId, channelIds: options.channelIds }, hooks.signal);
    if (options.localPath) for (const channel of channels) for (const file of channel.files) file.path = options.localPath(file.path); // issue 26
    const images = channels.flatMap((channel) => channel.files.filter((file) => fileKind(file) === KIND.image));
    const { entries, made } = await decodeMissing(images, {
      store,
      galleryDir,
      workers: options.workers,
      signal: hooks.signal,
      warn: (event) => {
        warnings++;
        return emit(event);
      },
    });
    hooks.signal?.throwIfAborted();
    const written: IndexChannel[] = [];
    const serverNames = new Map<string, string>();
    const serverOf = new Map<string, string>();
    let files = 0;
    let placeholders = 0;
    let unchanged = 0;
    for (const channel of channels) {
      hooks.signal?.throwIfAborted();
      const rows = channel.files.map((file): GalleryFile => {
        const kind = fileKind(file);
        const entry = kind === KIND.image ? entries.get(file.sha256) : undefined;
        const decoded = entry !== undefined && entry.d !== null;
        if (!decoded) placeholders++;
        return {
          attachment_id: file.attachment_id,
          message_id: file.message_id,
          t: Math.floor(Date.parse(file.timestamp) / 1000),
          author_id: file.author_id ?? '',
          author_name: file.author_name ?? '',
          author_display: file.author_display_name ?? file.author_name ?? '',
          content: file.content ?? '',
          f: relativeUrl(galleryDir, file.path),
          n: file.filename,
          th: decoded ? thumbPath(file.sha256) : null,
          k: kind === KIND.image ? (entry?.k ?? 0) : kind,
          w: decoded ? (entry?.w ?? 0) : (file.width ?? 0),
          h: decoded ? (entry?.h ?? 0) : (file.height ?? 0),
          d: file.description ?? null,
          hash: decoded ? (entry?.d ?? null) : null,
        };
      });
      files += rows.length;
      const data = `data/c-${channel.channel_id}.js`;
      const where = { guild_id: channel.guild_id && channel.guild_id !== '@me' ? channel.guild_id : null, channel_id: channel.channel_id };
      written.push(indexEntry(channel, rows, data));
      serverNames.set(channel.guild_id, channel.guild_name);
      serverOf.set(channel.channel_id, channel.guild_id);
      // A channel whose data would come out the same as its file's is not rewritten.
      const input = inputDigest([DATA_INPUT_FORMAT, where], rows);
      if ((await readInputDigest(path.join(galleryDir, data))) === input) {
        unchanged++;
        continue;
      }
      await writeAtomic(path.join(galleryDir, data), channelScript(channel.channel_id, channelData(rows, where), input));
      await emit({
        event: 'gallery_channel',
        guild_id: channel.guild_id,
        channel_id: channel.channel_id,
        channel_name: channel.name,
        files: rows.length,
        data,
      });
    }
    const previous = await previousIndex(galleryDir);
    // Channels the state no longer holds: out of the index, their data files and unshown thumbnails removed first.
    const stale = staleChannels(previous.servers, new Set(serverOf.keys()), options);
    const kept = previous.servers.flatMap((server) => server.channels.map((c) => c.id)).filter((id) => !serverOf.has(id) && !stale.has(id));
    await removeStale(galleryDir, stale, kept, shownThumbs(entries));
    const index = mergeIndex(previous, written, serverNames, serverOf, stale);
    if (previous.version !== GALLERY_DATA_VERSION || JSON.stringify(index) !== JSON.stringify(previous.servers))
      await writeAtomic(
        path.join(galleryDir, 'data', 'index.js'),
        indexScript({ version: GALLERY_DATA_VERSION, generated_at: new Date().toISOString(), servers: index } satisfies GalleryIndex),
      );
    await writePage(galleryDir);
    summary = {
      event: 'summary',
      command: 'gallery',
      channels: written.length - unchanged,
      channels_unchanged: unchanged,
      channels_removed: stale.size,
      files,
      thumbnails_made: made,
      thumbnails_kept: countKept(entries, made),
      placeholders,
      warnings,
      gallery: path.join(galleryDir, 'index.html'),
      elapsed_ms: Date.now() - started,
      exit_code: ExitCode.ok,
    };
  } catch (error) {
    throw stopped(hooks.signal, error, 'the gallery was interrupted (thumbnails made so far are kept)');
  } finally {
    await store.close();
  }
  await emit(summary);
  return summary;
}

// An abort's error: the signal's own AbortedError (its exit code: 130, 143, or 0 for a closed stdout), else ours.
export function stopped(signal: AbortSignal | undefined, error: unknown, message: string): unknown {
  if (!signal?.aborted) return error;
  return isDpsError(signal.reason) && signal.reason.code === 'DPS_ABORTED' ? signal.reason : new AbortedError(message, { cause: error });
}

// The sha256s of the thumbnails this run's channels show.
function shownThumbs(entries: ReadonlyMap<string, { d: string | null }>): Set<string> {
  const shown = new Set<string>();
  for (const [sha256, entry] of entries) if (entry.d !== null) shown.add(sha256);
  return shown;
}

// Distinct thumbnails the gallery uses that an earlier run made.
function countKept(entries: ReadonlyMap<string, { d: string | null }>, made: number): number {
  let decoded = 0;
  for (const entry of entries.values()) if (entry.d !== null) decoded++;
  return Math.max(0, decoded - made);
}

function indexEntry(channel: GalleryChannel, rows: readonly GalleryFile[], data: string): IndexChannel {
  const first = rows[0];
  const last = rows[rows.length - 1];
  let cover: string | null = null;
  for (let i = rows.length - 1; i >= 0 && cover === null; i--) cover = rows[i]?.th ?? null; // the newest picture
  return {
    id: channel.channel_id,
    name: channel.name,
    kind: channel.kind,
    ...(channel.parent_id !== undefined ? { parent_id: channel.parent_id } : {}),
    ...(channel.parent_name !== undefined ? { parent_name: channel.parent_name } : {}),
    count: rows.length,
    first: new Date((first?.t ?? 0) * 1000).toISOString(),
    last: new Date((last?.t ?? 0) * 1000).toISOString(),
    cover,
    data,
  };
}

// The servers of the last data/index.js (a run with --channel-id keeps the other channels listed) and its version.
async function previousIndex(galleryDir: string): Promise<{ version: unknown; servers: IndexServer[] }> {
  const text = await readFile(path.join(galleryDir, 'data', 'index.js'), 'utf8').catch(() => '');
  const match = /^window\.dpsGallery\.index\(([\s\S]*)\);\n?$/.exec(text);
  if (!match) return { version: undefined, servers: [] };
  try {
    const data = JSON.parse(match[1] as string) as { version?: unknown; servers?: IndexServer[] };
    return { version: data.version, servers: Array.isArray(data.servers) ? data.servers : [] };
  } catch {
    return { version: undefined, servers: [] };
  }
}

// This run's channels replace their earlier entries; the stale ones go; the others stay; servers and channels
// sorted by name.
function mergeIndex(
  previous: { servers: IndexServer[] },
  written: IndexChannel[],
  names: ReadonlyMap<string, string>,
  serverOf: ReadonlyMap<string, string>,
  stale: ReadonlySet<string>,
): IndexServer[] {
  const servers = new Map<string, IndexServer>();
  for (const server of previous.servers)
    servers.set(server.id, { id: server.id, name: server.name, channels: server.channels.filter((c) => !serverOf.has(c.id) && !stale.has(c.id)) });
  for (const channel of written) {
    const id = serverOf.get(channel.id) as string;
    const server = servers.get(id) ?? { id, name: names.get(id) ?? id, channels: [] };
    server.name = names.get(id) ?? server.name;
    server.channels.push(channel);
    servers.set(id, server);
  }
  const byName = <T extends { name: string; id: string }>(a: T, b: T): number => a.name.localeCompare(b.name) || a.id.localeCompare(b.id);
  return [...servers.values()]
    .filter((s) => s.channels.length > 0)
    .map((s) => ({ ...s, channels: s.channels.sort(byName) }))
    .sort(byName);
}
