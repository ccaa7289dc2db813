// The run, top to bottom: open its resources (run-resources.ts), resolve the server and channels, archive several
// channels at once through one pipeline each, then retry the failed files of channels it did not archive:
//
//   source (paginate, or the failed items) -> flatten -> filter -> archived -> fetch -> checkpoint -> events
//
// (fetch's steps per item, write among them: lib/stages/fetch.ts) with one REST client, one download pool and
// one store. Events go to `emit`; the caller decides where they are printed.

import type { APIMessage } from 'discord-api-types/v10';
import type { ChannelTarget } from './discord/targets.js';
import { openTargets } from './discord/targets.js';
import { looksLikeMissingIntent } from './discord/intent.js';
import { hintBefore } from './discord/history-size.js';
import type { RateLimitWait } from './discord/long-wait.js';
import { UrlRefresher } from './discord/refresh.js';
import { hasCode } from './errors.js';
import type { DpsError } from './errors.js';
import { removeStaleTemps } from './fs/atomic-write.js';
import type { FolderCache } from './fs/atomic-write.js';
import { checkOutputWritable } from './fs/output-check.js';
import type { ArchiveHooks, ArchiveOptions, NormalizedOptions } from './options.js';
import { normalizeOptions } from './options.js';
import { addCounts, channelSkippedEvent, emptyCounts, skippedChannel, summaryEvent } from './output/events.js';
import type { Counts } from './output/events.js';
import type { RunEstimate } from './output/estimate.js';
import { failedChannels, failedTargets } from './retry-targets.js';
import { reconcileFilter } from './rewalk.js';
import { endsWithSummary, exitCodeOf, fatalOf } from './run-exit.js';
import { announceWait, intentCheck, retryLine } from './run-notices.js';
import { withRunResources } from './run-resources.js';
import type { ResourceHooks, RunResources } from './run-resources.js';
import { findArchived } from './stages/archived.js';
import type { ArchivedOptions } from './stages/archived.js';
import { channelPatch, checkpoint } from './stages/checkpoint.js';
import type { CheckpointOptions } from './stages/checkpoint.js';
import { emitEvents } from './stages/events.js';
import { asDownloadPool, createDownloadPool } from './stages/download-pool.js';
import type { DownloadPool } from './stages/download-pool.js';
import { failedItems } from './stages/failed.js';
import { fetchFiles } from './stages/fetch.js';
import type { FetchOptions } from './stages/fetch.js';
import { filter } from './stages/filter.js';
import { flatten } from './stages/flatten.js';
import { paginate } from './stages/paginate.js';
import { writeMetadata } from './stages/metadata.js'; // --write-metadata (issue 23)
import { announcedBefore, walkFilterOf } from './store/walked-with.js';
import { collect } from './util/collect.js';
import { KeyedLock } from './util/keyed-lock.js';
import { linkController } from './util/link-signals.js';
import { readAhead } from './util/read-ahead.js';
import { runConcurrently } from './util/run-concurrently.js';
import { RunEstimator } from './run-estimates.js';
import { runLargestFirst, fixedSlots } from './run-schedule.js';
import type { ChannelSlots } from './run-schedule.js';
import { AutoSlots } from './run-slots.js';
import type { ChannelPage, ChannelRecord, DoneSpan, ItemResult, SelectedUnit, WalkFilter } from './types.js';
import type { FilteredUnit } from './types.js'; // dps follow: liveFirst
import type { DpsEvent, SavedEvent } from './output/events.js'; // dps follow: archiveLive's onSaved
import { maxSnowflake } from './util/snowflake.js';
import { compareSnowflakes } from './util/snowflake.js'; // --from-start: what was announced (announcedFromStart)
import { steps, through } from './util/steps.js';
// Dry runs (--dry-run): simulate replaces fetch and checkpoint.
import { simulate } from './stages/simulate.js';
import type { DrySeen, SimulateOptions } from './stages/simulate.js';
import { emptyDryRunCounts, sumDryRunCounts } from './output/events.js';
import type { DryRunCounts } from './output/events.js';
import type { Renewal } from './discord/refresh.js';
// Object storage (issue 26)
import { KEPT_SAMPLE, preflightS3 } from './s3/preflight.js';
import { objectUrl } from './s3/destination.js';
import type { S3Target } from './s3/destination.js';

export interface ArchiveResult {
  exitCode: number;
  totals: Counts;
  perChannel: Array<{ channel_id: string; channel_name: string } & Counts>;
}

// Everything a channel's pipeline needs: the run's options and resources, and what its channels share.
export interface RunContext extends RunResources {
  options: NormalizedOptions;
  hooks: ArchiveHooks;
  pool: DownloadPool;
  refresher: UrlRefresher;
  locks: KeyedLock;
  folders: FolderCache; // output folders created and checked during this run
  halt: { error?: DpsError | undefined }; // the error that stops every download (see FetchOptions.halt)
  botId?: string | undefined;
  checkIntent: (context: ChannelTarget['context']) => void; // once per run (run-notices.ts)
  estimator: RunEstimator; // pages left, rates, ETA and the floor (run-estimates.ts)
  dry?: DrySeen | undefined; // a dry run: the attachments it would save so far (lib/stages/simulate.ts)
}

type Guild = { id: string; name: string };

// Channels whose failed files are retried at once after the history pass, under --channel-concurrency auto.
const ORPHAN_CHANNELS = 4;

// How the run ended: the error that stopped it, and whether a requested channel could not be read.
export interface Outcome {
  fatal?: DpsError | undefined;
  stopped?: DpsError | undefined; // a wait over --max-wait, which stops the whole run: the fatal error, whatever follows
  accessDenied: boolean;
}

// The channels of a run as they are archived: their live counts (for the progress display) and their entries.
export interface Tally {
  perChannel: ArchiveResult['perChannel'];
  live: Counts[];
  estimator?: RunEstimator | undefined; // what is left and the floor (run-estimates.ts), once the run has started
  estimate?: (() => RunEstimate | undefined) | undefined; // what the progress display and progress.json show of it
  dryRun?: boolean; // the channels' counts carry the dry-run counts (DryRunCounts)
}

// A run's work with its resources open (archiveAll; `dps follow`'s, lib/follow.ts): it fills `tally` with the
// channels it archives and records in `outcome` how it ended.
export type RunWork = (resources: RunResources, options: NormalizedOptions, hooks: ArchiveHooks, tally: Tally, outcome: Outcome) => Promise<void>;

// Archives the requested channels; resolves with the exit code the CLI should use.
export async function runArchive(input: ArchiveOptions, hooks: ArchiveHooks = {}, work: RunWork = archiveAll): Promise<ArchiveResult> {
  const options = normalizeOptions(input);
  const started = Date.now();
  const tally: Tally = { perChannel: [], live: [] };
  if (options.dryRun) tally.dryRun = true;
  const totals = (): Counts => {
    const sum = emptyCounts();
    for (const counts of tally.live) addCounts(sum, counts);
    return sum;
  };
  const outcome: Outcome = { accessDenied: false };
  const resourceHooks: ResourceHooks = {
    ...hooks,
    onLongWait: (wait: RateLimitWait) => announceWait(hooks, wait),
    onOpen: () => hooks.onStart?.(totals, () => tally.estimate?.()),
  };
  await withRunResources(
    options,
    resourceHooks,
    (resources) => work(resources, options, hooks, tally, outcome),
    (error, resources) => stopOn(error, resources, outcome),
  );
  const { fatal, accessDenied } = outcome;
  if (!endsWithSummary(fatal, tally.perChannel.length)) throw fatal;
  const result: ArchiveResult = { totals: totals(), perChannel: tally.perChannel, exitCode: 0 };
  result.exitCode = exitCodeOf({ fatal, accessDenied, failed: result.totals.failed, stopReason: hooks.signal?.reason });
  // The summary is the last event: nothing is written after it to wait for.
  const summary = summaryEvent(result.totals, result.perChannel, Date.now() - started, result.exitCode, fatal, tally.estimator?.floor()?.floor_ms);
  if (options.dryRun) Object.assign(summary, { dry_run: true }, sumDryRunCounts(tally.live as Array<Counts & Partial<DryRunCounts>>)); // a dry run's totals
  void hooks.emit?.(summary);
  if (fatal && fatal.code !== 'DPS_ABORTED') hooks.log?.(`stopped: ${fatal.message}`);
  return result;
}

// The run's work with its resources open: prepare the output, resolve the targets, archive them, then retry the
// failed files of channels it did not archive.
async function archiveAll(resources: RunResources, options: NormalizedOptions, hooks: ArchiveHooks, tally: Tally, outcome: Outcome): Promise<void> {
  const { signal } = resources;
  // A dry run leaves --out as it is: no sweep, no probe (nothing is written there).
  if (options.dryRun) hooks.log?.('dry run: nothing is downloaded, nothing is written to --out or the state');
  // Object storage (issue 26): the bucket checked, a killed run's uploads aborted, before any Discord request.
  if (resources.s3 !== undefined) await prepareS3(resources.s3, resources, hooks, options.dryRun === true);
  const local = !options.dryRun && resources.s3 === undefined; // a folder to sweep and probe (not S3, issue 26)
  const removed = !local ? 0 : await removeStaleTemps(options.out, signal).catch(() => 0);
  if (removed > 0) hooks.log?.(`removed ${removed} unfinished temporary file(s) from an interrupted run`);
  if (local) await checkOutputWritable(options.out); // an unusable --out stops the run here, before any download
  const run = createRun(resources, options, hooks);
  tally.estimator = run.estimator;
  tally.estimate = () => {
    try {
      return { ...run.estimator.estimate(), downloads: run.pool.size, downloads_waiting: run.pool.queued };
    } catch {
      return undefined; // read from timers (the progress line, progress.json): an estimate never stops the run
    }
  };
  resources.progressFile?.setEstimate(tally.estimate);
  const guild = await archiveTargets(run, tally, outcome);
  if (!options.retryOnly && !signal.aborted) await retryOrphans(run, guild, tally);
  if (!signal.aborted) resources.progressFile?.recovered(); // a recovery run that completed
}

// Object storage (issue 26): the preflight (lib/s3/preflight.ts); the uploads it aborted are told on stderr
// (also `dps follow`'s, lib/follow.ts). The first objects the state records under the prefix are looked for: an
// emptied prefix stops the run.
export async function prepareS3(s3: S3Target, resources: Pick<RunResources, 'signal' | 'store'>, hooks: ArchiveHooks, readOnly = false): Promise<void> {
  const { signal } = resources;
  const saved = readOnly ? [] : await resources.store.savedUnder(objectUrl(s3.settings.bucket, s3.settings.prefix), KEPT_SAMPLE);
  const { aborted, checksums, signedPayloads, conditionalWrites } = await preflightS3(s3.client, s3.settings, signal, readOnly, saved); // a dry run only lists
  s3.settings.checksums = checksums === true; // the service verifies sha256 checksums: every upload sends them
  s3.settings.signedPayloads = signedPayloads === true; // it checks signed payload hashes: every PUT is signed
  s3.settings.conditionalWrites = conditionalWrites === true; // a single PUT needs no HEAD before it
  if (aborted > 0)
    hooks.log?.(
      `aborted ${aborted} unfinished multipart upload(s) an interrupted run left under ${s3.settings.prefix === '' ? 'the bucket' : `${s3.settings.prefix}/`}`,
    );
}

// The run's shared parts over its resources: the download pool, link refresher, locks, folders and estimates
// (also `dps follow`'s, lib/follow.ts).
export function createRun(resources: RunResources, options: NormalizedOptions, hooks: ArchiveHooks): RunContext {
  const { signal } = resources;
  const run: RunContext = {
    ...resources,
    options,
    hooks,
    pool: asDownloadPool(hooks.pool ?? createDownloadPool(options)),
    refresher: new UrlRefresher(resources.client, signal, undefined, hooks.clock),
    locks: new KeyedLock(),
    folders: new Map(),
    halt: {},
    checkIntent: intentCheck(resources.client, hooks, signal),
    estimator: new RunEstimator({
      globalPerSecond: resources.client.globalPerSecond,
      paceMs: (channelId) => resources.client.intervalOf(`/channels/${channelId}/messages`),
      wait: () => resources.client.rateLimitWait, // the progress display's current wait
    }),
  };
  if (options.dryRun) run.dry = new Map();
  // A missing folder the state has files in is refused, never created afresh (fs/atomic-write.ts FolderCache).
  run.folders.holdsFilesUnder = (dir) => resources.store.holdsFilesUnder(dir);
  // The message history of the largest channels goes first through the global limit; every other request
  // (thread listings, link refreshes: few, and others wait on them) before any history.
  resources.client.prioritize((path) => {
    const history = /^\/channels\/(\d+)\/messages$/.exec(path);
    return history ? run.estimator.expected(history[1]!) : Number.MAX_SAFE_INTEGER;
  });
  return run;
}

// Resolves the targets and archives them, several channels at once. Channels start as soon as they are known: the
// server's threads are listed (to the end, without waiting for channel slots) while its first channels are
// archived. When an unreadable channel is fatal (failOnChannelError), every target is checked before the first is
// archived; otherwise it is skipped (exit code 4). Resolves with the server.
async function archiveTargets(run: RunContext, tally: Tally, outcome: Outcome): Promise<Guild> {
  const { options, hooks, signal } = run;
  // Target resolution: stopped with the run, or when the run stops reading targets early.
  const resolving = linkController(signal);
  const slots = channelSlots(run);
  try {
    const onSkipped = ({ context, reason, detail }: { context: ChannelTarget['context']; reason: string; detail: string }): void =>
      void hooks.emit?.(channelSkippedEvent(context, reason, detail));
    const targets = options.retryOnly
      ? await failedTargets(run.client, run.store, options, signal)
      : await openTargets(run.client, options, { signal: resolving.signal, log: hooks.log, onSkipped });
    run.botId = targets.me.id;
    const channels = options.failOnChannelError
      ? await collect(targets.channels)
      : readAhead(targets.channels, () => resolving.controller.abort(signal.reason));
    const size = async (target: ChannelTarget): Promise<number | undefined> => {
      if (options.retryOnly) return undefined;
      const after = historyStart(options, await run.store.getChannel(target.context.channel_id));
      return run.estimator.expect(target.context.channel_id, hintBefore(target.size, options.before), after);
    };
    await runLargestFirst(channels, { slots, size, signal }, (target) =>
      counted(tally, target, async (counts) => {
        try {
          await archiveChannel(run, target, counts);
        } catch (error) {
          if (hasCode(error, 'DPS_RATE_LIMIT')) {
            outcome.stopped ??= error; // a wait over --max-wait: the whole run stops (progress saved), exit 1
            run.stop.abort(error); // the other channels stop too, as on SIGINT: in-flight files finish
          }
          if (!hasCode(error, 'DPS_ACCESS', 'DPS_NOT_FOUND') || options.failOnChannelError) throw error;
          outcome.accessDenied = true;
          hooks.log?.(`skipping ${describeTarget(target)}: ${error.message}`);
          void hooks.emit?.(skippedChannel(target.context, error));
        }
      }),
    );
    if (targets.denied > 0) outcome.accessDenied = true;
    return targets.guild;
  } catch (error) {
    resolving.controller.abort(signal.reason); // the targets still being listed are not wanted
    throw error;
  } finally {
    slots.close();
    resolving.unlink();
  }
}

// Failed files of channels this run did not archive (deleted since, or no longer listed): their retry pass still
// runs, so the files of a deleted channel become `gone` (skipped deleted) instead of pending forever.
async function retryOrphans(run: RunContext, guild: Guild, tally: Tally): Promise<void> {
  const { options, hooks, signal } = run;
  const archived = new Set(tally.perChannel.map((c) => c.channel_id));
  const requested = new Set(options.channelIds);
  const wanted = (id: string): boolean => !archived.has(id) && !options.excludeChannelIds.has(id) && (options.allChannels || requested.has(id));
  const orphans = await failedChannels(run.store, guild, wanted, signal);
  // Their failed files only, no history: the download pool bounds the work, a few channels at a time feed it.
  const slots = options.channelConcurrency === 'auto' ? Math.min(ORPHAN_CHANNELS, options.maxChannelConcurrency) : options.channelConcurrency;
  await runConcurrently(orphans, slots, signal, async (target) => {
    if (target.context.parent_id !== undefined && !options.threads) return;
    hooks.onChannel?.(target.context); // its name, for the human lines
    await counted(tally, target, (counts) =>
      retryFailed(run, target, counts).catch((error: unknown) => {
        if (!hasCode(error, 'DPS_ACCESS', 'DPS_NOT_FOUND')) throw error;
        hooks.log?.(`cannot retry the failed files of ${describeTarget(target)}: ${error.message}`);
      }),
    );
  });
}

// An error thrown while the run held its resources: the error that stops it (recorded in `outcome`), or rethrown
// when it is not ours. The downloads still queued in its window must not start, retry or back off.
function stopOn(error: unknown, resources: RunResources, outcome: Outcome): void {
  const fatal = fatalOf(error, outcome.stopped, resources.signal.aborted);
  if (fatal === undefined) throw error;
  if (!resources.signal.aborted) resources.stop.abort(fatal);
  outcome.fatal = fatal;
}

// Runs `work` for one channel with its counts, which the progress display reads live and the summary lists.
export async function counted(tally: Tally, target: ChannelTarget, work: (counts: Counts) => Promise<void>): Promise<void> {
  const counts: Counts & Partial<DryRunCounts> = tally.dryRun ? { ...emptyCounts(), ...emptyDryRunCounts() } : emptyCounts();
  tally.live.push(counts);
  const entry = { channel_id: target.context.channel_id, channel_name: target.context.channel_name, ...counts };
  tally.perChannel.push(entry);
  try {
    await work(counts);
  } finally {
    Object.assign(entry, counts);
  }
}

// One channel (or thread): first the items that failed in earlier runs, then the history from the cursor.
// `handledLive`: messages `dps follow` archived from the Gateway in this process (lib/follow.ts), whose files were
// announced then: the walk finds them archived and announces them no more.
// `waitLive` (lib/follow.ts): resolves once the live pipeline has finished a message it has queued (at once for any
// other), so the walk decides on announcing a file, and moves the cursor past it, only after the live events did.
export async function archiveChannel(
  run: RunContext,
  target: ChannelTarget,
  counts: Counts,
  handledLive?: (messageId: string, attachmentId: string) => boolean,
  waitLive?: (messageId: string) => Promise<void>,
): Promise<void> {
  run.hooks.onChannel?.(target.context); // its name, for the progress display and the human lines
  try {
    await retryFailed(run, target, counts);
    if (!run.options.retryOnly) await archiveHistory(run, target, counts, handledLive, waitLive);
  } finally {
    run.estimator.finish(target.context.channel_id);
  }
}

// The retry pass: failed items with refreshed links, through the same stages; the cursor is untouched.
async function retryFailed(run: RunContext, target: ChannelTarget, counts: Counts): Promise<void> {
  const { options, store, signal } = run;
  const { context } = target;
  const source = failedItems(context, { store, refresher: run.dry ? recordedLinks : run.refresher, signal });
  const units = through(source, steps([filter(options), findArchived({ store }), queued(run)]));
  if (run.dry) {
    const simulated = simulate(units, { ...simulateOptions(run, target, counts), retry: true, channelDone: options.retryOnly });
    return emitEvents(simulated, { emit: run.hooks.emit, log: run.hooks.log, signal });
  }
  const results = withMetadata(run, context, true, settled(run, fetchFiles(units, fetchOptions(run))));
  const events = checkpoint(results, { store, context, counts, saveCursor: false, channelDone: options.retryOnly });
  await emitEvents(events, { emit: run.hooks.emit, log: run.hooks.log, signal });
}

// The history pass, from the cursor to the newest message.
async function archiveHistory(
  run: RunContext,
  target: ChannelTarget,
  counts: Counts,
  handledLive?: (messageId: string, attachmentId: string) => boolean,
  waitLive?: (messageId: string) => Promise<void>,
): Promise<void> {
  const { options, store, signal } = run;
  const { context } = target;
  const windowed = options.after !== undefined || options.before !== undefined;
  const walkedWith = runWalkFilter(options);
  let record = await store.getChannel(context.channel_id);
  const stored = record?.last_message_id; // a dry run's channel_done reports it: it moves no cursor
  // A windowed run neither moves the cursor nor records its filter; any other compares it with the record's.
  if (!windowed) record = await reconcileFilter(store, context, record, walkedWith, run.hooks);
  const cursor = options.fromStart ? undefined : record?.last_message_id;
  run.hooks.log?.(`${describeTarget(target)}: ${cursor ? `resuming after message ${cursor}` : 'starting from the beginning'}`);
  const after = historyStart(options, record);
  const walk = run.estimator.walk(context.channel_id, hintBefore(target.size, options.before), after);
  let firstPage = true;
  const onPage = (messages: readonly APIMessage[], down: boolean): void => {
    if (firstPage && looksLikeMissingIntent(messages, run.botId)) run.checkIntent(context);
    firstPage = false;
    walk.page(messages, down);
  };
  const archived: ArchivedOptions = {
    store,
    // Files archived beyond the stored cursor were written by an interrupted run: announced, not skipped.
    // --from-start too: it walks what earlier runs finished and announced (below the cursor, done_above) again.
    announceAfter: record?.last_message_id ?? '0',
    announced: alsoAnnounced(inWindows(record?.windows, options.fromStart ? announcedFromStart(record) : announcedBefore(record?.rewalk)), handledLive),
  };

  const pages = paginate(context, {
    client: run.client,
    after,
    before: options.before,
    signal,
    onPage,
    doneAbove: windowed || options.fromStart ? undefined : record?.done_above,
  });
  const units = through(pages, steps([flatten(options.media), filter(options), liveFirst(waitLive), findArchived(archived), queued(run)]));
  if (run.dry)
    return emitEvents(simulate(units, { ...simulateOptions(run, target, counts), cursor: stored }), { emit: run.hooks.emit, log: run.hooks.log, signal });
  const results = withMetadata(run, context, false, settled(run, fetchFiles(units, fetchOptions(run))));
  // A windowed run moves no cursor; what it finished (and announced) is kept as spans (ChannelRecord.windows).
  const persist = windowed ? windowSpans(store, context, after) : undefined;
  const events = checkpoint(results, { store, context, counts, saveCursor: true, persist, beforePersist: run.hooks.flushEvents, walkedWith });
  await emitEvents(events, { emit: run.hooks.emit, log: run.hooks.log, signal });
  if (!signal.aborted) run.estimator.walked(context.channel_id); // the display shows it at 100%
}

// `dps follow` (lib/follow.ts): a channel's live messages, as the Gateway delivered them, through the same stages as
// its history, one message per page. `persist` takes each watermark instead of the cursor: only follow knows
// whether everything below a live message is done. It is given every finished message at once (a kill loses at
// most the message being written).
export async function archiveLive(
  run: RunContext,
  target: ChannelTarget,
  counts: Counts,
  messages: AsyncIterable<APIMessage>,
  persist: NonNullable<CheckpointOptions['persist']>,
  onSaved?: (event: SavedEvent) => void, // lib/follow.ts: the files the live events announced
): Promise<void> {
  const { options, store, signal } = run;
  const { context } = target;
  const pages = async function* (): AsyncGenerator<ChannelPage> {
    for await (const message of messages) yield { kind: 'page', context, messages: [message] };
  };
  // No announceAfter: a file found archived (a replayed event, or one the catch-up walk took first) is not new.
  const units = through(pages(), steps([flatten(options.media), filter(options), findArchived({ store }), queued(run)]));
  const results = withMetadata(run, context, false, settled(run, fetchFiles(units, fetchOptions(run))));
  const events = checkpoint(results, {
    store,
    context,
    counts,
    saveCursor: true,
    persist,
    flushEveryMs: 0,
    channelDone: false,
    beforePersist: run.hooks.flushEvents,
    walkedWith: runWalkFilter(options),
  });
  await emitEvents(onSaved === undefined ? events : tapSaved(events, onSaved), { emit: run.hooks.emit, log: run.hooks.log, signal });
}

// The events as they go out, each `saved` told to `onSaved` first.
async function* tapSaved(events: AsyncIterable<DpsEvent>, onSaved: (event: SavedEvent) => void): AsyncGenerator<DpsEvent> {
  for await (const event of events) {
    if (event.event === 'saved') onSaved(event);
    yield event;
  }
}

// The filter a history walk records with the cursor (lib/store/walked-with.ts): what the run selects.
export function runWalkFilter(options: NormalizedOptions): WalkFilter {
  return walkFilterOf({
    types: options.types,
    maxSize: options.maxSize,
    embeds: options.media.embeds === true,
    stickers: options.media.stickers === true,
    // Selecting (issue 23): by author, size, dimensions and spoiler.
    authors: options.authors,
    excludeAuthors: options.excludeAuthors,
    excludeBots: options.excludeBots,
    minSize: options.minSize,
    minWidth: options.minWidth,
    minHeight: options.minHeight,
    spoilers: options.spoilers,
  });
}

// A windowed walk's progress (from `after`, exclusive): the span it walked up to the watermark, and the span it
// walked down; recorded in the channel's windows, never as its cursor.
function windowSpans(store: RunContext['store'], context: ChannelTarget['context'], after: string): NonNullable<CheckpointOptions['persist']> {
  const from = (BigInt(after) + 1n).toString();
  return async (watermark, doneAbove) => {
    const spans = [...(watermark === undefined ? [] : [{ from, to: watermark }]), ...(doneAbove === undefined ? [] : [doneAbove])];
    await store.recordWindow(context.channel_id, spans, channelPatch(context));
  };
}

// Files in the spans windowed runs finished were announced by them.
function inWindows(windows: readonly DoneSpan[] | undefined, announced: ArchivedOptions['announced']): ArchivedOptions['announced'] {
  if (windows === undefined || windows.length === 0) return announced;
  return (item, record) =>
    windows.some((w) => compareSnowflakes(item.message_id, w.from) >= 0 && compareSnowflakes(item.message_id, w.to) <= 0) || announced?.(item, record) === true;
}

// What a walk knows was announced, plus the messages `dps follow` handled live (archiveChannel's handledLive).
function alsoAnnounced(
  announced: ArchivedOptions['announced'],
  handledLive: ((messageId: string, attachmentId: string) => boolean) | undefined,
): ArchivedOptions['announced'] {
  if (handledLive === undefined) return announced;
  return (item, record) => handledLive(item.message_id, item.attachment_id) || announced?.(item, record) === true;
}

// `dps follow`: a file of a message the live events have queued waits for them to finish it (archiveChannel's
// waitLive); without waitLive, every unit passes at once.
function liveFirst(waitLive: ((messageId: string) => Promise<void>) | undefined): (unit: FilteredUnit) => FilteredUnit | Promise<FilteredUnit> {
  return (unit) => {
    if (waitLive === undefined || unit.kind !== 'item') return unit;
    return waitLive(unit.message_id).then(() => unit);
  };
}

// --from-start: besides what a re-walk knows was announced, the span above the cursor an interrupted run finished
// (done_above, which a resumed walk skips) had its events printed.
function announcedFromStart(record: ChannelRecord | undefined): ArchivedOptions['announced'] {
  const rewalk = announcedBefore(record?.rewalk);
  const done = record?.done_above;
  return (item, rec) =>
    (done !== undefined && compareSnowflakes(item.message_id, done.from) >= 0 && compareSnowflakes(item.message_id, done.to) <= 0) ||
    rewalk?.(item, rec) === true;
}

// A step that tells the estimates of each file handed to the downloads (for the ETA).
function queued(run: RunContext): (unit: SelectedUnit) => SelectedUnit {
  return (unit) => {
    if (unit.kind === 'item' && !run.dry) run.estimator.queued(unit); // a dry run downloads nothing
    return unit;
  };
}

// The downloads' results, each file's told to the estimates as it settles.
async function* settled(run: RunContext, results: AsyncIterable<ItemResult>): AsyncGenerator<ItemResult> {
  for await (const result of results) {
    if (result.kind === 'saved' || result.kind === 'failed' || result.kind === 'skipped') run.estimator.settled(result.item, result.kind === 'saved');
    run.estimator.processed(result); // how far the channel is done, for the progress display
    yield result;
  }
}

// --write-metadata (issue 23): the metadata stage between fetch and checkpoint; without the flag, none at all.
function withMetadata(run: RunContext, context: ChannelTarget['context'], retry: boolean, results: AsyncIterable<ItemResult>): AsyncIterable<ItemResult> {
  const mode = run.options.writeMetadata;
  if (mode === undefined) return results;
  return writeMetadata(results, {
    mode,
    store: run.store,
    out: run.options.out,
    pathPattern: run.options.pathPattern,
    folders: run.folders,
    disk: run.disk,
    context,
    retry,
    log: run.hooks.log,
    signal: run.signal,
    s3: run.s3, // object storage (issue 26): sidecars as objects, the channel log rewritten from the state
    locks: run.locks,
    clock: run.hooks.clock,
    transferSignal: run.hooks.hardSignal,
    repairSince: run.sidecars?.repairSince, // after a crash: broken sidecars in its window are replaced
  });
}

// A dry run's simulate stage for one channel (its counts carry the dry-run counts: see counted).
function simulateOptions(run: RunContext, target: ChannelTarget, counts: Counts): SimulateOptions {
  const { options } = run;
  return {
    store: run.store, // the dry run's copy of the state (run-resources.ts)
    out: options.out,
    namePattern: options.namePattern,
    pathPattern: options.pathPattern,
    context: target.context,
    counts: counts as Counts & DryRunCounts,
    seen: run.dry ?? new Map(),
    recovering: run.damaged,
    signal: run.signal,
    s3: run.s3, // object storage (issue 26): would_save paths are s3:// keys
  };
}

// A dry run's retry pass asks for no fresh link: the failed file's recorded link and size are all it needs.
const recordedLinks = { renew: async (item: { url: string }): Promise<Renewal> => ({ url: item.url || undefined }) };

// How the run's downloads are made (shared by every pass of every channel).
function fetchOptions(run: RunContext): FetchOptions {
  const { options } = run;
  return {
    pool: run.pool,
    agent: run.agent,
    refresher: run.refresher,
    clock: run.hooks.clock,
    allowedOrigins: options.allowedOrigins,
    retries: options.retries,
    backoffMs: options.backoffMs,
    out: options.out,
    namePattern: options.namePattern,
    store: run.store,
    signal: run.signal,
    transferSignal: run.hooks.hardSignal,
    transfers: run.transfers,
    timeoutMs: options.timeoutMs,
    onRetry: (retry) => run.hooks.log?.(retryLine(retry)),
    locks: run.locks,
    folders: run.folders,
    disk: run.disk,
    halt: run.halt,
    adoptFiles: run.damaged, // the state lost records: files already in --out are re-adopted, not downloaded
    mtime: options.mtime, // issue 23: file times are post times
    sidecars: options.writeMetadata === 'file' && run.s3 === undefined, // issue 23: each sidecar written with its file
    sidecarSync: run.sidecars, // issue 23: ... and made durable with the run's others (run-sidecars.ts)
    pathPattern: options.pathPattern, // layout (issue 23): the folders under --out
    s3: run.s3, // object storage (issue 26): --out s3://bucket/prefix
  };
}

// Where a channel's history walk starts: after its cursor or --after, whichever is later ('0': the beginning).
function historyStart(options: NormalizedOptions, record: ChannelRecord | undefined): string {
  return maxSnowflake(options.fromStart ? undefined : record?.last_message_id, options.after) ?? '0';
}

// The run's channel slots: a pinned --channel-concurrency, or the auto limit (run-slots.ts), running until close().
export function channelSlots(run: RunContext): ChannelSlots & { close(): void } {
  const { options, client } = run;
  if (options.channelConcurrency !== 'auto') return { ...fixedSlots(options.channelConcurrency), close: () => undefined };
  const slots = new AutoSlots({
    cap: options.maxChannelConcurrency,
    globalPerSecond: client.globalPerSecond,
    requests: () => client.stats.requests,
    backlog: () => client.globalBacklog,
    paceMs: () => client.historyPaceMs(),
    downloadsSaturated: () => run.pool.saturated,
  });
  slots.start();
  return slots;
}

export function describeTarget(target: ChannelTarget): string {
  return `#${target.context.channel_name} (${target.context.channel_id})`;
}
