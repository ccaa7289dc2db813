// Public API of discord-photo-scraper. The CLI in bin/ is a thin layer over these functions.

import type { Writable } from 'node:stream';
import type { FollowHooks } from './follow.js';
import { pollEvents } from './follow-poll.js';
import { validSession } from './discord/gateway-session.js';
import type { ArchiveHooks } from './options.js';
import type { ArchiveResult } from './archive.js';
import { redact, UsageError } from './errors.js';
import { DEFAULT_API } from './discord/defaults.js';
import type { DiscordClient } from './discord/client.js';
import type { ChannelEntry, GuildEntry } from './discord/enumerate.js';
import { NdjsonWriter } from './output/ndjson.js';
import { Progress, ProgressLines } from './output/progress.js';
import { humanText } from './output/human-lines.js';
import { fitLines, wrapLines } from './output/human-width.js';
import type { OutputFormat } from './output/human-lines.js';
import { FAILED_WARNING } from './stages/events.js';
import { terminalSafe } from './output/terminal-safe.js';
import type { ArchiveOptions } from './options.js';
import type { Counts } from './output/events.js';
import type { RunEstimate } from './output/estimate.js';
import { Store } from './store/store.js';
import { hasCode } from './errors.js';
import { runningStatus } from './output/progress-file.js';
import { namedLockError } from './output/state-holder.js'; // a held state's refusal names the running command
import { statusEntry } from './output/status-report.js';
import type { StatusReport } from './output/status-report.js';
import type { AttachmentRecord, ChannelRecord } from './types.js';
import { STATS_BY, StatsAggregator } from './output/stats.js';
import type { SummaryEvent } from './output/events.js';
import type { StatsBy, StatsRow } from './output/stats.js';
import { isSnowflake } from './util/snowflake.js';
// dps gallery, dps similar (issue 25)
import type { GalleryOptions } from './gallery/run-gallery.js';
import type { SimilarOptions } from './gallery/run-similar.js';
import type { GallerySummaryEvent, SimilarSummaryEvent } from './gallery/gallery-events.js';

export type { ArchiveOptions, ArchiveHooks } from './options.js';
export type { StatusReport } from './output/status-report.js';
export type { EstimateReport, RunEstimate } from './output/estimate.js';
export type { ArchiveResult } from './archive.js';
export type { DpsEvent, Counts } from './output/events.js';
export type { WouldSaveEvent, DryRunCounts } from './output/events.js'; // dry runs (ArchiveOptions.dryRun)
export type { AttachmentRecord, ChannelRecord, MediaItem, MediaSource } from './types.js';
export type { ChannelEntry, GuildEntry } from './discord/enumerate.js';
export * from './errors.js';
/** The run behind `archive` without its output (events and logs go to `hooks`); loaded on first call. */
export const runArchive: typeof import('./archive.js').runArchive = async (...args) => (await import('./archive.js')).runArchive(...args);
/** The run behind `follow` without its output; loaded on first call. */
export const runFollow: typeof import('./follow.js').runFollow = async (...args) => (await import('./follow.js')).runFollow(...args);
export type { FollowHooks, LiveEvent, LiveChannel } from './follow.js';
export { createDownloadPool } from './stages/download-pool.js';
export type { DownloadPool } from './stages/download-pool.js';
export { parseSize, DEFAULT_NAME_PATTERN, DEFAULTS } from './options.js';
export { namePlaceholders } from './fs/safe-name.js';
export { terminalSafe } from './output/terminal-safe.js';
export { wrapLines } from './output/human-width.js';
export { estimateNote } from './output/estimate.js';
export { checkApiUrl, isDiscordApiHost } from './discord/api-url.js';
export { parseDuration } from './util/duration.js';
export { packageVersion } from './util/package-version.js';
// dps manifest --format (issue 23, metadata)
export { csvField, isManifestFormat, MANIFEST_COLUMNS, MANIFEST_FORMATS, manifestFormatter, tsvField } from './output/manifest-format.js';
export type { ManifestFormat, ManifestFormatter } from './output/manifest-format.js';
// dps stats (lib/output/stats.ts): counts and bytes per channel, author, month or type.
export { STATS_BY } from './output/stats.js';
export type { StatsBy, StatsRow } from './output/stats.js';
export { statsTable } from './output/stats-table.js';
export { isSnowflake } from './util/snowflake.js';

/** Where output goes. stdout receives NDJSON events only; stderr receives human logs and progress. */
export interface ArchiveIO {
  stdout?: Writable;
  stderr?: Writable;
  /** Stops the run: no new pages or downloads; files being transferred are finished and recorded. */
  signal?: AbortSignal;
  /** Also cancels transfers in flight (their temp files are removed). */
  hardSignal?: AbortSignal;
  /** Draw a progress line on stderr (the CLI enables it when stderr is a TTY). */
  progress?: boolean;
  /** Print only errors on stderr. */
  quiet?: boolean;
  /** Called when stdout is closed by the reader (e.g. `| head`): the run should stop cleanly. */
  onStdoutClosed?: () => void;
  /**
   * Called once the run starts, with a function that returns its live totals (messages, files, bytes so far) and,
   * when the run estimates it, one that returns its estimate of what is left (ETA, pages, channels, concurrency).
   */
  onStart?: (totals: () => Counts, estimate?: () => RunEstimate | undefined) => void;
  /**
   * How events are printed on `stdout`: `ndjson` (the default, the documented contract) or `human` (one short line per
   * saved file and per problem, a short summary block; the CLI's default when stdout is a terminal).
   */
  format?: OutputFormat;
  /** Without `progress`: print one plain progress line on stderr every this many ms (0 or unset: never). */
  progressIntervalMs?: number;
}

/**
 * Archives the channels in `options`: NDJSON events to `io.stdout`, logs to `io.stderr`.
 * Resolves with the exit code (0 ok, 1 some items failed, 4 a channel was inaccessible, 130 aborted);
 * rejects with a `DpsError` for run-level failures (usage 2, auth 3, access 4, state 5).
 */
export async function archive(options: ArchiveOptions, io: ArchiveIO = {}): Promise<ArchiveResult> {
  const result = await runWithIO(options, io, (hooks) => runArchive(options, hooks));
  // --gallery (issue 25): after a run that ended (not stopped), unless it was a dry run.
  if (options.gallery && !options.dryRun && !io.signal?.aborted && result.exitCode <= 1) await galleryAfterRun(options, io);
  return result;
}

/** What `follow` takes beyond `archive`'s options. */
export interface FollowOptions extends ArchiveOptions {
  /** User tokens (no Gateway): look at every channel this often, in ms [60000]. */
  pollIntervalMs?: number;
  /** The live events (tests, other sources); by default the Gateway for a bot token, polling for a user token. */
  openLive?: FollowHooks['openLive'];
  /** A live message is finished: its files are durable. */
  onLive?: FollowHooks['onLive'];
  /** Print a line with the totals on stderr this often, in ms (0: never) [600000]. */
  statusIntervalMs?: number;
}

/**
 * Follows the channels in `options` until `io.signal` stops it: each is caught up from its cursor, then every file
 * posted is archived as it arrives (README, "Following a server"). Output and exit codes as `archive`'s.
 */
export async function follow(options: FollowOptions, io: ArchiveIO = {}): Promise<ArchiveResult> {
  const openLive = options.openLive ?? (await defaultLive(options));
  const log = (line: string): void => {
    if (!io.quiet) io.stderr?.write(`${terminalSafe(redact(line, [options.token]))}\n`);
  };
  let totals: (() => Counts) | undefined;
  const intervalMs = options.statusIntervalMs ?? 600_000;
  const heartbeat = intervalMs > 0 ? setInterval(() => totals && log(followingLine(totals())), intervalMs) : undefined;
  heartbeat?.unref();
  try {
    const onStart: ArchiveIO['onStart'] = (live, estimate) => {
      totals = live;
      io.onStart?.(live, estimate);
    };
    return await runWithIO(options, { ...io, onStart }, (hooks) =>
      runFollow(options, {
        ...hooks,
        openLive,
        onLive: options.onLive,
        progressFile: { command: 'follow' }, // progress.json names the follow to processes the state's lock refuses
        // A service's log shows each file as it is saved (NDJSON stays on stdout).
        emit: (event) => {
          if (event.event === 'saved' && io.format !== 'human') log(`saved ${event.path}`);
          return hooks.emit?.(event);
        },
      }),
    );
  } finally {
    clearInterval(heartbeat);
  }
}

// The heartbeat of a long follow (--status-interval): it is alive, and what it has done.
function followingLine(totals: Counts): string {
  return `following: ${totals.saved} file(s) saved (${(totals.bytes / 1e6).toFixed(1)} MB), ${totals.failed} failed, ${totals.messages} message(s) seen`;
}

// The live source: the Gateway for a bot token (its module loaded here, so it connects as soon as the run opens
// it); polling for a user token (no Gateway for user accounts).
async function defaultLive(options: FollowOptions): Promise<FollowHooks['openLive']> {
  const intervalMs = options.pollIntervalMs ?? 60_000;
  if (options.tokenType === 'user') return ({ signal }) => pollEvents(intervalMs, signal);
  const { openGateway } = await import('./discord/gateway.js');
  return ({ client, store, signal, log }) =>
    openGateway({
      token: options.token,
      apiUrl: options.api ?? DEFAULT_API,
      guildId: options.guildId,
      client,
      allowInsecureApi: options.allowInsecureApi,
      session: {
        load: async () => validSession(await store.gatewaySession(options.guildId)),
        save: (session) => store.saveGatewaySession(options.guildId, session),
      },
      signal,
      log,
    });
}

// A run with its output: events on io.stdout (NDJSON or human lines), logs and progress on io.stderr, --notify.
async function runWithIO(options: ArchiveOptions, io: ArchiveIO, start: (hooks: ArchiveHooks) => Promise<ArchiveResult>): Promise<ArchiveResult> {
  const human = io.format === 'human';
  const names = new Map<string, string>(); // channel id -> "#name", for the human lines and the progress display
  const nameOf = (channelId: string): string | undefined => names.get(channelId);
  // --notify (lib/output/notify.ts): the URL is checked before the run starts; the summary is posted once it ends.
  const notify = options.notify === undefined ? undefined : await import('./output/notify.js');
  const notifyTo = options.notify === undefined ? undefined : notify?.notifyTarget(options.notify);
  let summary: SummaryEvent | undefined;
  let progress: Progress | undefined;
  let progressLines: ProgressLines | undefined;
  const above = (write: () => void): void => (progress ? progress.above(write) : write()); // never inside the progress block
  const out = io.stdout
    ? new NdjsonWriter(
        io.stdout,
        io.onStdoutClosed,
        human
          ? { format: (event) => humanLines(io.stdout, humanText(event, nameOf), options.token), around: above }
          : columnsOf(io.stdout) > 0
            ? { around: above } // NDJSON on a terminal (--format ndjson) goes above the progress block too; piped, untouched
            : {},
      )
    : undefined;
  const clearOnStop = (): void => progress?.clear(); // the caller may print a line of its own when it stops the run
  io.signal?.addEventListener('abort', clearOnStop, { once: true });
  const log = (line: string): void => {
    if (io.quiet || !io.stderr) return;
    if (human && line.startsWith(FAILED_WARNING)) return; // the human output prints it
    const stderr = io.stderr;
    const text = `${terminalSafe(redact(line, [options.token]))}\n`; // names from Discord: no raw control characters
    above(() => stderr.write(progress ? wrapLines(text, columnsOf(stderr) - 1) : text)); // the block's lines are never wrapped by the terminal
  };
  try {
    return await start({
      emit: (event) => {
        if (event.event === 'summary') summary = event; // for --notify
        return out?.write(event); // a promise while stdout is full: the run waits for the reader
      },
      flushEvents: () => out?.flush(),
      log,
      signal: io.signal,
      hardSignal: io.hardSignal,
      onStart: (totals, estimate) => {
        io.onStart?.(totals, estimate);
        if (io.progress && io.stderr && !io.quiet) {
          progress = new Progress(io.stderr, totals, { estimate, nameOf });
          progress.start();
        } else if (io.progressIntervalMs && io.stderr && !io.quiet) {
          progressLines = new ProgressLines(io.stderr, totals, { estimate, nameOf, intervalMs: io.progressIntervalMs });
          progressLines.start();
        }
      },
      onChannel: (context) => {
        const name = context.parent_name === undefined ? context.channel_name : `${context.parent_name}/${context.channel_name}`;
        names.set(context.channel_id, `#${name}`);
      },
    });
  } finally {
    io.signal?.removeEventListener('abort', clearOnStop);
    progressLines?.stop();
    progress?.stop(); // its final state stays on screen, above the summary
    out?.flush();
    // Printed even with `quiet`: a run watched through its notifications must learn that one was lost.
    if (notify !== undefined && notifyTo !== undefined && summary !== undefined) {
      const problem = await notify.sendSummary(notifyTo, summary, { server: options.guildId, secrets: [options.token] });
      if (problem !== undefined) io.stderr?.write(`warning: --notify: ${terminalSafe(redact(problem, [options.token]))}\n`);
    }
  }
}

// The human lines of an event for `stdout`: on a terminal each cut to its width (a line per file, never wrapped).
function humanLines(stdout: Writable | undefined, text: string, token: string): string {
  const safe = redact(text, [token]);
  const columns = columnsOf(stdout);
  return columns > 0 ? fitLines(safe, columns - 1) : safe;
}

// The width of the terminal a stream writes to (0: not a terminal).
function columnsOf(stream: Writable | undefined): number {
  const columns = (stream as { columns?: unknown } | undefined)?.columns;
  return typeof columns === 'number' && columns > 1 ? columns : 0;
}

/**
 * Every archived (or failed) attachment in the state, optionally for one server or channel.
 * Opens the state directory (taking its lock) for the duration of the iteration. A folder that holds no dps
 * state is refused (`DPS_NO_STATE`) and nothing is created there.
 */
export async function* manifest(state: string, filter: { guildId?: string; channelId?: string } = {}, signal?: AbortSignal): AsyncGenerator<AttachmentRecord> {
  const store = await openState(state, signal).catch(lockHolder(state));
  try {
    yield* store.attachments(filter, signal);
  } finally {
    await store.close();
  }
}

// The state's database (LevelDB), loaded when a command first opens one: `dps --version` never loads it.
async function openState(state: string, signal: AbortSignal | undefined): Promise<Store> {
  const { openStore } = await import('./store/open.js');
  return openStore(state, { signal, mustExist: true });
}

// A state held by a run is refused with the name of its command ("in use by a running dps follow").
function lockHolder(state: string): (error: unknown) => Promise<never> {
  return async (error) => {
    throw await namedLockError(error, state);
  };
}

/** Reads the state and reports progress per server and channel. A folder that holds no dps state is refused (`DPS_NO_STATE`), nothing created. */
export async function status(state: string, filter: { guildId?: string } = {}, signal?: AbortSignal): Promise<StatusReport> {
  const store = await openState(state, signal).catch(async (error: unknown) => {
    // A run (scrape, follow, retry-failed) holds the lock: answer from the progress.json it keeps beside the state, if it is this state's.
    const running = hasCode(error, 'DPS_STORE_LOCKED') ? await runningStatus(state, filter) : undefined;
    if (running === undefined) throw await namedLockError(error, state);
    return running;
  });
  if (!(store instanceof Store)) return store;
  try {
    const report: StatusReport = { servers: {} };
    // Items waiting in the retry queue, per channel (retried first by the next run or by `dps retry-failed`).
    const pending = new Map<string, number>();
    for await (const item of store.failedItems({}, signal)) pending.set(item.channel_id, (pending.get(item.channel_id) ?? 0) + 1);
    for await (const channel of store.channels(signal) as AsyncIterable<ChannelRecord>) {
      if (filter.guildId && channel.guild_id !== filter.guildId) continue;
      const server = report.servers[channel.guild_id] ?? { name: channel.guild_name, channels: {} };
      report.servers[channel.guild_id] = server;
      server.channels[channel.channel_id] = statusEntry(channel, pending.get(channel.channel_id) ?? 0);
    }
    return report;
  } finally {
    await store.close();
  }
}

/** How to reach Discord (the subset of ArchiveOptions that enumeration needs). */
export interface ConnectionOptions {
  token: string;
  tokenType?: 'bot' | 'user';
  api?: string;
  polite?: boolean;
  /** Send the token over plain http to a host that is not loopback (refused otherwise). */
  allowInsecureApi?: boolean;
  /** First wait before retrying a failed request, doubled each retry [500 ms]. */
  backoffMs?: number;
}

/** The servers the token can see (paged past 200). */
export async function* guilds(connection: ConnectionOptions, signal?: AbortSignal): AsyncGenerator<GuildEntry> {
  const client = await connect(connection);
  try {
    yield* (await import('./discord/enumerate.js')).listGuilds(client, { signal });
  } finally {
    client.close();
  }
}

/** The channels (and, with `threads`, the threads) of a server, each with whether the token can read it and why not. */
export async function* channels(
  connection: ConnectionOptions & { guildId: string; threads?: boolean },
  signal?: AbortSignal,
  warn?: (line: string) => void,
): AsyncGenerator<ChannelEntry> {
  const client = await connect(connection);
  try {
    yield* (await import('./discord/enumerate.js')).listChannels(client, connection.guildId, {
      threads: connection.threads ?? false,
      signal,
      ...(warn ? { warn } : {}),
    });
  } finally {
    client.close();
  }
}

async function connect(connection: ConnectionOptions): Promise<DiscordClient> {
  if (!connection.token) throw new UsageError('no token: pass --token, set DISCORD_TOKEN, or put DISCORD_TOKEN=... in a .env file');
  const { DiscordClient } = await import('./discord/client.js');
  return new DiscordClient({
    token: connection.token,
    tokenType: connection.tokenType ?? 'bot',
    api: connection.api ?? DEFAULT_API,
    polite: connection.polite ?? false,
    allowInsecureApi: connection.allowInsecureApi ?? false,
    ...(connection.backoffMs !== undefined ? { backoffMs: connection.backoffMs } : {}),
  });
}

/**
 * Counts and bytes of what the state holds, per channel (default), author, month or file type, then the total
 * (last row): files, duplicates, failed, bytes (posted, duplicates included), bytes_on_disk, first and last post.
 * Streams over the attachment records (memory grows with the groups, not the files). Read-only: a folder that
 * holds no dps state is refused (`DPS_NO_STATE`), nothing created.
 */
export async function stats(
  state: string,
  options: { guildId?: string | undefined; channelId?: string | undefined; by?: StatsBy | undefined } = {},
  signal?: AbortSignal,
): Promise<StatsRow[]> {
  const by = options.by ?? 'channel';
  if (!STATS_BY.includes(by)) throw new UsageError(`--by must be channel, author, month or type, got ${JSON.stringify(by)}`);
  for (const [flag, id] of [
    ['--server-id', options.guildId],
    ['--channel-id', options.channelId],
  ] as const) {
    if (id !== undefined && (!isSnowflake(id) || id === '0'))
      throw new UsageError(`${flag} must be a Discord id (a number like 123456789012345678), got ${JSON.stringify(id)}`);
  }
  const store = await openState(state, signal).catch(lockHolder(state));
  try {
    const names = new Map<string, string>();
    if (by === 'channel') for await (const channel of store.channels(signal)) names.set(channel.channel_id, channel.channel_name);
    const aggregator = new StatsAggregator(by, (id) => names.get(id));
    for await (const record of store.attachments({ guildId: options.guildId, channelId: options.channelId }, signal)) aggregator.add(record);
    return aggregator.rows();
  } finally {
    await store.close();
  }
}

// ---- dps gallery, dps similar (issue 25, lib/gallery) ----
export type { GalleryOptions, IndexChannel } from './gallery/run-gallery.js';
export type { SimilarOptions } from './gallery/run-similar.js';
export type { GalleryEvent, GallerySummaryEvent, SimilarEvent, SimilarSummaryEvent } from './gallery/gallery-events.js';
export { DEFAULT_SIMILAR_DISTANCE } from './gallery/groups.js';

/** Where `gallery` and `similar` write: NDJSON events on `stdout`; `signal` stops them (thumbnails made so far are kept). */
export interface GalleryIO {
  stdout?: Writable;
  signal?: AbortSignal;
  /** Called when stdout is closed by the reader (e.g. `| head`). */
  onStdoutClosed?: () => void;
}

/**
 * Builds (or updates) the static gallery of what the state holds (README "Gallery"): thumbnails of files no run has
 * decoded yet, a data file per channel, the index and the page. Resolves with its summary (exit code 0); rejects
 * with a `DpsError` (usage 2, state 5, aborted 130).
 */
export async function gallery(options: GalleryOptions = {}, io: GalleryIO = {}): Promise<GallerySummaryEvent> {
  const out = io.stdout ? new NdjsonWriter(io.stdout, io.onStdoutClosed, {}) : undefined;
  try {
    // --out s3:// (issue 26): built in a staging folder beside the state, uploaded under prefix/gallery/.
    if (/^s3:\/\//i.test(options.out ?? ''))
      return await (await import('./gallery/s3-site.js')).runS3Gallery(options, { emit: (event) => out?.write(event), signal: io.signal });
    return await (await import('./gallery/run-gallery.js')).runGallery(options, { emit: (event) => out?.write(event), signal: io.signal });
  } finally {
    out?.flush();
  }
}

/**
 * Prints groups of archived images whose perceptual hashes (dHash) differ by at most `distance` bits [6], as
 * `similar` events, then a summary. Files never decoded are decoded first (their hashes are kept in the state).
 */
export async function similar(options: SimilarOptions = {}, io: GalleryIO = {}): Promise<SimilarSummaryEvent> {
  const out = io.stdout ? new NdjsonWriter(io.stdout, io.onStdoutClosed, {}) : undefined;
  try {
    return await (await import('./gallery/run-similar.js')).runSimilar(options, { emit: (event) => out?.write(event), signal: io.signal });
  } finally {
    out?.flush();
  }
}

// dps scrape --gallery: the gallery of the run's --out and --state, after the run (its events follow the run's summary).
async function galleryAfterRun(options: ArchiveOptions, io: ArchiveIO): Promise<void> {
  await gallery(
    {
      out: options.out,
      state: options.state,
      galleryDir: options.galleryDir,
      guildId: options.guildId,
      // --out s3:// (issue 26)
      s3Endpoint: options.s3Endpoint,
      s3Region: options.s3Region,
      s3ForcePathStyle: options.s3ForcePathStyle,
    },
    {
      ...(io.stdout ? { stdout: io.stdout } : {}),
      ...(io.signal ? { signal: io.signal } : {}),
      ...(io.onStdoutClosed ? { onStdoutClosed: io.onStdoutClosed } : {}),
    },
  );
}
