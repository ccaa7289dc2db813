// Library options, their defaults, and their validation: every bad value becomes a one-line UsageError
// here, before any request is made.

import { resolve } from 'node:path';
import type { DiscordClientOptions } from './discord/client.js';
import type { Clock } from './discord/clock.js';
import { DEFAULT_API, NETWORK_DEFAULTS } from './discord/defaults.js';
import { resolveApiUrl } from './discord/api-url.js';
import type { MediaOptions } from './discord/media.js';
import { isSnowflake, parseBound } from './util/snowflake.js';
import { UsageError } from './errors.js';
import { MIN_PART_SIZE, isS3Url, parseS3Url } from './s3/destination.js'; // issue 26
import type { S3Settings } from './s3/destination.js';
import { validatePattern } from './fs/safe-name.js';
import { validatePathPattern } from './fs/safe-name.js'; // --path-pattern (issue 23, layout)
import type { Counts, DpsEvent } from './output/events.js';
import { DEFAULT_TYPES, parseTypes } from './util/file-types.js';
import { parseDuration } from './util/duration.js';
import type { DownloadPool } from './stages/download-pool.js';
import type { Semaphore } from './util/semaphore.js';
import type { ProgressFileOptions } from './output/progress-file.js';
import type { RunEstimate } from './output/estimate.js';
import type { ChannelContext } from './types.js';

export const DEFAULT_NAME_PATTERN = '{date}_{message_id}_{filename}';

// Every default of an option, in one place: normalizeOptions fills them in and the CLI shows them in --help.
export const DEFAULTS = {
  api: DEFAULT_API,
  tokenType: 'bot',
  out: 'data/downloads',
  state: 'data/state',
  types: DEFAULT_TYPES.join(','),
  namePattern: DEFAULT_NAME_PATTERN,
  threads: true,
  concurrency: 'auto', // adaptive (lib/stages/download-pool.ts): starts at 8, never above maxConcurrency
  maxConcurrency: 64,
  channelConcurrency: 'auto', // from the limits (lib/run-schedule.ts), never above maxChannelConcurrency
  maxChannelConcurrency: 64,
  globalRateLimit: NETWORK_DEFAULTS.globalPerSecond, // Discord's global limit, requests per second per bot
  retries: NETWORK_DEFAULTS.retries,
  backoffMs: NETWORK_DEFAULTS.backoffMs,
  maxWait: '15m',
  noticeWait: '10s',
  timeout: '60s',
  stallGrace: '2s',
} as const;

// What a caller may set (the CLI maps its flags onto these one to one).
export interface ArchiveOptions {
  token: string;
  tokenType?: 'bot' | 'user';
  api?: string; // https://discord.com/api/v10
  cdn?: string; // base for sticker URLs; defaults to the API origin when --api points elsewhere
  guildId: string;
  channelIds?: readonly string[];
  allChannels?: boolean;
  excludeChannelIds?: readonly string[];
  threads?: boolean;
  includeNsfw?: boolean;
  out?: string;
  state?: string;
  types?: string | readonly string[];
  maxSize?: number | string;
  concurrency?: number | string; // parallel downloads: a number pins it; 'auto' adapts to the CDN ['auto']
  maxConcurrency?: number | string; // the cap of 'auto' downloads [64] (a numeric string from the command line too)
  channelConcurrency?: number | string; // channels archived at once: a number pins it; 'auto' schedules from the limits ['auto']
  maxChannelConcurrency?: number | string; // the cap of 'auto' channels [64]
  namePattern?: string;
  after?: string; // ISO date or message id
  before?: string;
  fromStart?: boolean;
  embeds?: boolean;
  stickers?: boolean;
  polite?: boolean;
  globalRateLimit?: number | string; // requests per second across the whole bot [50, Discord's global limit]
  retries?: number;
  backoffMs?: number;
  failOnChannelError?: boolean; // treat an inaccessible channel as fatal instead of skipping it
  retryOnly?: boolean; // only retry the items that failed in earlier runs (dps retry-failed)
  maxWait?: number | string; // ms or "15m": a rate-limit wait longer than this stops the run (DPS_RATE_LIMIT) [15 min]
  noticeWait?: number | string; // ms or "10s": rate-limit waits longer than this are announced [10 s]
  timeout?: number | string; // ms or "60s": a download with no headers or no data for this long is retried [60 s]
  stallGrace?: number | string; // ms or "2s": once the run is stopping, transfers idle this long are cancelled [2 s]
  allowInsecureApi?: boolean; // allow a plain-http API that is not loopback (the token travels in clear)
  // issue 23, file times: a saved file's atime and mtime are its message's post time; false keeps the download time [true]
  mtime?: boolean;
  // --write-metadata (issue 23): a JSON sidecar per file (true or 'file'), or one messages.ndjson per channel folder
  writeMetadata?: boolean | 'file' | 'channel';
  // Selecting (issue 23): which files by author, size, dimensions and spoiler (lib/stages/filter.ts).
  authors?: readonly string[]; // --author: only files posted by these user ids
  excludeAuthors?: readonly string[]; // --exclude-author: never files posted by these
  excludeBots?: boolean; // --exclude-bots: never files posted by bots or webhooks
  minSize?: number | string; // --min-size: bytes, or "100KB"
  minWidth?: number | string; // --min-width: pixels (files without dimensions pass)
  minHeight?: number | string; // --min-height: pixels
  spoilers?: string; // --spoilers include|exclude|only [include]
  // Dry run (--dry-run, --simulate): walk as a real run would, download and write nothing, print would_save.
  dryRun?: boolean;
  // Layout (issue 23): the folders under --out, e.g. "{guild}/{year}/{month}"; undefined: the default layout.
  pathPattern?: string | undefined;
  // --notify: archive() posts the summary here when the run ends (lib/output/notify.ts); runArchive ignores it.
  notify?: string;
  // dps scrape --gallery (issue 25): archive() updates the gallery once the run ends (lib/gallery); runArchive ignores it.
  gallery?: boolean | undefined;
  galleryDir?: string | undefined; // --gallery-dir [<out>/gallery]
  // Object storage (issue 26, lib/s3): --out s3://bucket/prefix. Credentials come from the AWS chain only.
  s3Endpoint?: string | undefined; // --s3-endpoint (bin falls back to AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL)
  s3Region?: string | undefined; // --s3-region (bin falls back to AWS_REGION, AWS_DEFAULT_REGION) [us-east-1]
  s3ForcePathStyle?: boolean | undefined; // --s3-force-path-style: http://host/bucket/key URLs
  s3CopyDuplicates?: boolean | undefined; // --s3-copy-duplicates: a duplicate's own object, copied server-side
  s3PartSize?: number | string | undefined; // --s3-part-size: bytes per multipart part in memory [5MiB]
}

// Where events and human logs go, and how to stop.
export interface ArchiveHooks {
  // May return a promise while the output is full: the run waits for it before it takes the next event.
  emit?: (event: DpsEvent) => void | Promise<void>;
  // Writes out the events emit() may still hold; called before a cursor is saved (a run killed just after would
  // never announce the files behind it again).
  flushEvents?: () => void;
  log?: (line: string) => void;
  signal?: AbortSignal | undefined; // stop: no new pages or downloads; files being transferred are finished
  hardSignal?: AbortSignal | undefined; // cancel transfers in flight too (their temp files are removed)
  pool?: DownloadPool | Semaphore; // share one download pool between several archive() calls (a Semaphore: fixed)
  onStart?: (totals: () => Counts, estimate?: () => RunEstimate | undefined) => void; // live totals and the run's estimate, for a progress display
  progressFile?: ProgressFileOptions | false; // progress.json beside the state (lib/output/progress-file.ts); false: none
  // For tests: the time signed links expire by, for the downloads and the link refresher (lib/discord/clock.ts), so
  // expiry is driven by a clock the test moves [the system clock].
  clock?: Clock | undefined;
  // A channel (or thread) starts being archived: its names, for the progress display and the human output.
  onChannel?: ((context: ChannelContext) => void) | undefined;
}

export type NormalizedOptions = ReturnType<typeof normalizeOptions>;

// Validates and fills in defaults; throws UsageError with a one-line message.
export function normalizeOptions(options: ArchiveOptions) {
  if (!options.token || typeof options.token !== 'string') {
    throw new UsageError('no token: pass --token, set DISCORD_TOKEN, or put DISCORD_TOKEN=... in a .env file');
  }
  const guildId = requireId(options.guildId, '--server-id');
  const channelIds = [...new Set((options.channelIds ?? []).map((id) => requireId(id, '--channel-id')))];
  const excludeChannelIds = new Set((options.excludeChannelIds ?? []).map((id) => requireId(id, '--exclude-channel')));
  if (channelIds.length === 0 && !options.allChannels && !options.retryOnly) throw new UsageError('give at least one --channel-id, or --all-channels');
  const { api, url: apiUrl } = resolveApiUrl(options.api ?? DEFAULTS.api, options.allowInsecureApi ?? false); // before the state is opened or any request is made
  const isDiscord = apiUrl.hostname === 'discord.com';
  const cdn = (options.cdn ?? (isDiscord ? 'https://cdn.discordapp.com' : apiUrl.origin)).replace(/\/+$/, '');
  const namePattern = options.namePattern ?? DEFAULTS.namePattern;
  validatePattern(namePattern);
  if (options.pathPattern !== undefined) validatePathPattern(options.pathPattern); // layout (issue 23)
  const after = options.after === undefined ? undefined : parseBound(options.after, 'after');
  if (options.after !== undefined && after === undefined)
    throw new UsageError(`--after must be an ISO date (2024-01-31) or a message id, got "${options.after}"`);
  const before = options.before === undefined ? undefined : parseBound(options.before, 'before');
  if (options.before !== undefined && before === undefined)
    throw new UsageError(`--before must be an ISO date (2024-01-31) or a message id, got "${options.before}"`);
  const types = parseTypes(options.types ?? DEFAULTS.types);
  if (types !== 'all' && types.size === 0) throw new UsageError('--types is empty');
  const extraOrigins = isDiscord ? [] : [apiUrl.origin];
  const media: MediaOptions = {
    embeds: options.embeds ?? false,
    stickers: options.stickers ?? false,
    cdn,
    discordHosts: ['cdn.discordapp.com', 'media.discordapp.net', ...(isDiscord ? [] : [apiUrl.host])],
  };
  const client: DiscordClientOptions = {
    token: options.token,
    tokenType: options.tokenType ?? DEFAULTS.tokenType,
    api,
    polite: options.polite ?? false,
    globalPerSecond: positiveInt(options.globalRateLimit ?? DEFAULTS.globalRateLimit, '--global-rate-limit', 100_000),
    ...(options.retries !== undefined ? { retries: options.retries } : {}),
    ...(options.backoffMs !== undefined ? { backoffMs: options.backoffMs } : {}),
    maxWaitMs: parseDuration(options.maxWait ?? DEFAULTS.maxWait, '--max-wait'),
    noticeWaitMs: parseDuration(options.noticeWait ?? DEFAULTS.noticeWait, '--notice-wait'),
    ...(options.allowInsecureApi !== undefined ? { allowInsecureApi: options.allowInsecureApi } : {}),
  };
  return {
    guildId,
    channelIds,
    excludeChannelIds,
    allChannels: options.allChannels ?? false,
    threads: options.threads ?? DEFAULTS.threads,
    includeNsfw: options.includeNsfw ?? false,
    out: resolve(options.out ?? DEFAULTS.out),
    state: resolve(options.state ?? DEFAULTS.state),
    types,
    maxSize: options.maxSize === undefined ? undefined : parseSize(options.maxSize),
    concurrency: autoOrInt(options.concurrency ?? DEFAULTS.concurrency, '--concurrency', MAX_CONCURRENCY),
    maxConcurrency: positiveInt(options.maxConcurrency ?? DEFAULTS.maxConcurrency, '--max-concurrency', MAX_CONCURRENCY),
    channelConcurrency: autoOrInt(options.channelConcurrency ?? DEFAULTS.channelConcurrency, '--channel-concurrency', MAX_CONCURRENCY),
    maxChannelConcurrency: positiveInt(options.maxChannelConcurrency ?? DEFAULTS.maxChannelConcurrency, '--max-channel-concurrency', MAX_CONCURRENCY),
    namePattern,
    after,
    before,
    fromStart: options.fromStart ?? false,
    media,
    client,
    allowedOrigins: extraOrigins,
    retries: options.retries ?? DEFAULTS.retries,
    backoffMs: options.backoffMs ?? DEFAULTS.backoffMs,
    failOnChannelError: options.failOnChannelError ?? false,
    retryOnly: options.retryOnly ?? false,
    timeoutMs: parseDuration(options.timeout ?? DEFAULTS.timeout, '--timeout'),
    stallGraceMs: parseDuration(options.stallGrace ?? DEFAULTS.stallGrace, '--stall-grace'),
    // issue 23, file times
    mtime: options.mtime ?? true,
    writeMetadata: metadataMode(options.writeMetadata), // issue 23: undefined when off
    // Selecting (issue 23)
    ...normalizeSelection(options),
    // Dry run: nothing downloaded, nothing written to --out or the state (lib/stages/simulate.ts).
    dryRun: options.dryRun ?? false,
    pathPattern: options.pathPattern, // layout (issue 23): undefined keeps the default folders
    // Object storage (issue 26): with --out s3://..., `out` is that URL as typed and `s3` its settings.
    ...s3Options(options),
  };
}

// "25MB", "1.5 GiB", "800k", "1048576" -> bytes (decimal units: 1 MB = 1,000,000; binary: 1 MiB = 1,048,576).
export function parseSize(value: number | string, flag = '--max-size'): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 0) return Math.floor(value);
    throw new UsageError(`${flag} must be a size like 25MB, got ${value}`);
  }
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)(b?)\s*$/i.exec(value);
  if (!match) throw new UsageError(`${flag} must be a size like 25MB or 800KiB, got "${value}"`);
  const [, number, unit = '', binary] = match;
  const power = ['', 'k', 'm', 'g', 't'].indexOf(unit.toLowerCase());
  return Math.floor(Number(number) * (binary ? 1024 : 1000) ** power);
}

function requireId(value: unknown, flag: string): string {
  const text = String(value ?? '').trim();
  if (!isSnowflake(text) || text === '0') throw new UsageError(`${flag} must be a Discord id (a number like 123456789012345678), got "${text}"`);
  return text;
}

// The highest number --concurrency, --channel-concurrency and their caps accept.
const MAX_CONCURRENCY = 256;

// 'auto' or an integer from 1 to max (a numeric string from the command line too).
function autoOrInt(value: number | string, flag: string, max: number): number | 'auto' {
  if (value === 'auto') return 'auto';
  const number = typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isInteger(number) || number < 1 || number > max) {
    throw new UsageError(`${flag} must be auto or an integer from 1 to ${max}, got ${String(value)}`);
  }
  return number;
}

// The most downloads a run may have in flight at once: a pinned --concurrency, or the cap of 'auto'.
export function downloadCap(options: Pick<NormalizedOptions, 'concurrency' | 'maxConcurrency'>): number {
  return options.concurrency === 'auto' ? options.maxConcurrency : options.concurrency;
}

// An integer from 1 to max (a numeric string from the command line too); the message shows the value as given.
function positiveInt(value: number | string, flag: string, max: number): number {
  const number = typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isInteger(number) || number < 1 || number > max) {
    throw new UsageError(`${flag} must be an integer from 1 to ${max}, got ${typeof value === 'string' ? JSON.stringify(value) : String(value)}`);
  }
  return number;
}

// --write-metadata: true or 'file' -> 'file', 'channel', false or absent -> off (undefined).
function metadataMode(value: unknown): 'file' | 'channel' | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true || value === 'file') return 'file';
  if (value === 'channel') return 'channel';
  throw new UsageError(`--write-metadata must be file or channel (or no value for file), got ${JSON.stringify(String(value))}`);
}

// The --spoilers choices.
export const SPOILER_CHOICES = ['include', 'exclude', 'only'] as const;

// Selecting (issue 23): --author, --exclude-author, --exclude-bots, --min-size, --min-width, --min-height,
// --spoilers, validated; each absent when it selects everything.
function normalizeSelection(options: ArchiveOptions) {
  const authors = options.authors === undefined || options.authors.length === 0 ? undefined : new Set(options.authors.map((id) => requireId(id, '--author')));
  const excludeAuthors = new Set((options.excludeAuthors ?? []).map((id) => requireId(id, '--exclude-author')));
  const spoilers = options.spoilers ?? 'include';
  const choice = SPOILER_CHOICES.find((c) => c === spoilers);
  if (choice === undefined) throw new UsageError(`--spoilers must be include, exclude or only, got "${spoilers}"`);
  return {
    authors: authors as ReadonlySet<string> | undefined,
    excludeAuthors: excludeAuthors as ReadonlySet<string>,
    excludeBots: options.excludeBots ?? false,
    minSize: options.minSize === undefined ? undefined : parseSize(options.minSize, '--min-size'),
    minWidth: options.minWidth === undefined ? undefined : pixels(options.minWidth, '--min-width'),
    minHeight: options.minHeight === undefined ? undefined : pixels(options.minHeight, '--min-height'),
    spoilers: choice,
  };
}

// A whole number of pixels (a numeric string from the command line too).
function pixels(value: number | string, flag: string): number {
  const number = typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isSafeInteger(number) || number < 0) {
    throw new UsageError(`${flag} must be a whole number of pixels like 800, got "${String(value)}"`);
  }
  return number;
}

// Object storage (issue 26): --out s3://bucket/prefix and the --s3-* flags -> the run's S3 settings (lib/s3);
// `s3: undefined` for a folder. The S3 flags without an s3:// --out, and a local --gallery-dir with it, are refused.
function s3Options(options: ArchiveOptions): { out?: string; s3: S3Settings | undefined } {
  const out = options.out ?? DEFAULTS.out;
  if (!isS3Url(out)) {
    const flag = (
      [
        [`--s3-endpoint ${options.s3Endpoint}`, options.s3Endpoint !== undefined],
        ['--s3-copy-duplicates', options.s3CopyDuplicates === true],
        ['--s3-force-path-style', options.s3ForcePathStyle === true],
        [`--s3-part-size ${options.s3PartSize}`, options.s3PartSize !== undefined],
      ] as const
    ).find(([, given]) => given);
    if (flag) throw new UsageError(`${flag[0]} needs --out s3://bucket/prefix, got --out ${out}`);
    return { s3: undefined };
  }
  const { bucket, prefix } = parseS3Url(out);
  // --write-metadata writes sidecar objects (stages/s3-sidecar.ts) or a channel log object (s3-metadata-channel.ts).
  // --gallery: the site is uploaded under prefix/gallery/ (lib/gallery/s3-site.ts); a local --gallery-dir is refused.
  if (options.gallery === true && options.galleryDir !== undefined)
    throw new UsageError(
      `--gallery-dir ${options.galleryDir}: with --out ${out} the gallery is uploaded beside the archive (under gallery/), it cannot go to a local folder`,
    );
  const endpoint = options.s3Endpoint;
  if (endpoint !== undefined && !/^https?:\/\/[^/\s]+/i.test(endpoint)) throw new UsageError(`--s3-endpoint must be an http(s) URL, got "${endpoint}"`);
  const partSize = options.s3PartSize === undefined ? MIN_PART_SIZE : parseSize(options.s3PartSize, '--s3-part-size');
  if (partSize < MIN_PART_SIZE) throw new UsageError(`--s3-part-size must be at least 5MiB (S3's smallest part), got ${options.s3PartSize}`);
  return {
    out,
    s3: {
      bucket,
      prefix,
      endpoint,
      region: options.s3Region ?? 'us-east-1',
      forcePathStyle: options.s3ForcePathStyle ?? false,
      copyDuplicates: options.s3CopyDuplicates ?? false,
      partSize,
      queueSize: 2,
    },
  };
}
