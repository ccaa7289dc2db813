// The run, top to bottom: resolve the server and channels, then for each channel
// paginate -> flatten -> filter -> fetch (+write) -> checkpoint, several channels at once, one REST client,
// one download pool, one store. Events go to `emit`; the caller decides where they are printed.

import { setMaxListeners } from 'node:events';
import type { Agent } from 'undici';
import { DiscordClient } from './discord/client.js';
import { createDownloadAgent } from './discord/download.js';
import { UrlRefresher } from './discord/refresh.js';
import { openTargets } from './discord/targets.js';
import type { ChannelTarget } from './discord/targets.js';
import { AbortedError, AccessError, DpsError, ExitCode } from './errors.js';
import { isoSecond, longWaitLine } from './discord/long-wait.js';
import type { RateLimitWait } from './discord/long-wait.js';
import { StallWatch } from './util/stall-watch.js';
import type { RetryNotice } from './stages/fetch.js';
import { removeStaleTemps } from './fs/atomic-write.js';
import { checkOutputWritable } from './fs/output-check.js';
import type { ProgressFile } from './output/progress-file.js';
import { startProgressFile } from './run-progress.js';
import type { FolderCache } from './fs/atomic-write.js';
import { addCounts, channelSkippedEvent, emptyCounts } from './output/events.js';
import type { Counts, DpsEvent, SummaryEvent } from './output/events.js';
import { checkpoint } from './stages/checkpoint.js';
import { fetch } from './stages/fetch.js';
import { filter } from './stages/filter.js';
import type { FilterOptions } from './stages/filter.js';
import { reconcileFilter } from './rewalk.js';
import { announcedBefore, walkFilterOf } from './store/walked-with.js';
import { flatten } from './stages/flatten.js';
import { failedItems } from './stages/failed.js';
import { failedChannels, failedTargets } from './retry-targets.js';
import { detectMessageContentIntent, looksLikeMissingIntent } from './discord/intent.js';
import type { APIMessage } from 'discord-api-types/v10';
import type { AttachmentRecord, ItemResult, MediaItem } from './types.js';
import { paginate } from './stages/paginate.js';
import { KeyedLock } from './util/keyed-lock.js';
import { openStore } from './store/store.js';
import type { Store } from './store/store.js';
import type { ArchiveOptions, ArchiveHooks } from './options.js';
import { normalizeOptions } from './options.js';
import { chainStages } from './util/chain-stages.js';
import { collect } from './util/collect.js';
import type { Stage } from './util/chain-stages.js';
import { Semaphore } from './util/semaphore.js';
import { readAhead } from './util/read-ahead.js';
import { runConcurrently } from './util/run-concurrently.js';
import { maxSnowflake } from './util/snowflake.js';

export interface ArchiveResult {
  exitCode: number;
  totals: Counts;
  perChannel: Array<{ channel_id: string; channel_name: string } & Counts>;
}

interface RunContext {
  options: ReturnType<typeof normalizeOptions>;
  client: DiscordClient;
  store: Store;
  agent: Agent;
  pool: Semaphore;
  refresher: UrlRefresher;
  locks: KeyedLock;
  folders: FolderCache; // output folders created and checked during this run
  transfers: StallWatch; // once the run is stopping, cancels transfers that receive nothing
  hooks: ArchiveHooks;
  signal: AbortSignal | undefined;
  botId?: string | undefined;
  intentCheck?: Promise<void>;
  halt?: { error?: DpsError | undefined }; // the error that stops every download (see FetchOptions.halt)
  adoptFiles: boolean; // the state lost records: files already in --out are re-adopted, not downloaded (adopt.ts)
}

// Archives the requested channels; resolves with the exit code the CLI should use.
export async function runArchive(input: ArchiveOptions, hooks: ArchiveHooks = {}): Promise<ArchiveResult> {
  const options = normalizeOptions(input);
  const started = Date.now();
  // retry-failed only retries what a state recorded: a mistyped --state is refused, never created (nor --out).
  const store = await openStore(options.state, { mustExist: options.retryOnly });
  // One internal signal for the run: every pending download, pool waiter and request listens to it at once,
  // so it may hold many (short-lived) listeners; the caller's signal gets exactly one, removed at the end.
  const controller = new AbortController();
  setMaxListeners(10_000, controller.signal);
  const forwardAbort = (): void => controller.abort(hooks.signal?.reason);
  if (hooks.signal?.aborted) forwardAbort();
  hooks.signal?.addEventListener('abort', forwardAbort, { once: true });
  const signal = controller.signal;
  const resolving = new AbortController(); // target resolution: aborted with the run, or when the run stops early
  const stopResolving = (): void => resolving.abort(signal.reason);
  if (signal.aborted) stopResolving();
  else signal.addEventListener('abort', stopResolving, { once: true });
  const client = new DiscordClient({ ...options.client, onLongWait: (wait) => announceWait(hooks, wait) });
  const agent = createDownloadAgent(Math.max(options.concurrency, 4), options.timeoutMs);
  const transfers = new StallWatch({ stop: signal, cancel: hooks.hardSignal, graceMs: options.stallGraceMs });
  const perChannel: ArchiveResult['perChannel'] = [];
  const live: Counts[] = [];
  const liveTotals = (): Counts => live.reduce((sum, counts) => (addCounts(sum, counts), sum), emptyCounts());
  hooks.onStart?.(liveTotals);
  let exitCode: number = ExitCode.ok;
  let fatal: DpsError | undefined;
  let stopped: DpsError | undefined; // a wait over --max-wait: the whole run stops (progress saved), exit 1
  let progressFile: ProgressFile | undefined;
  let completed = false; // every target was walked to its end (a recovery run clears its mark)
  try {
    const progress = await startProgressFile(store, options, hooks, signal); // progress.json beside the state
    progressFile = progress.file;
    const removed = await removeStaleTemps(options.out, signal).catch(() => 0);
    if (removed > 0) hooks.log?.(`removed ${removed} unfinished temporary file(s) from an interrupted run`);
    await checkOutputWritable(options.out); // an unusable --out stops the run here, before any download
    const run: RunContext = {
      options,
      client,
      store,
      agent,
      pool: hooks.pool ?? new Semaphore(options.concurrency),
      refresher: new UrlRefresher(client, signal),
      locks: new KeyedLock(),
      folders: new Map(),
      transfers,
      hooks,
      signal,
      adoptFiles: progress.damaged,
    };
    // Channels start as soon as they are known: the server's threads are listed (to the end, without waiting
    // for channel slots) while its first channels are archived. Resolution stops with the run. When an unreadable
    // channel is fatal (failOnChannelError), every target is checked before the first is archived.
    const targets = options.retryOnly
      ? await failedTargets(client, store, options, signal)
      : await openTargets(client, options, { signal: resolving.signal, log: hooks.log, emit: hooks.emit });
    run.botId = targets.me.id;
    const channels = options.failOnChannelError ? await collect(targets.channels) : readAhead(targets.channels, () => resolving.abort(signal.reason));
    await runConcurrently(channels, options.channelConcurrency, signal, async (target) => {
      const counts = emptyCounts();
      live.push(counts);
      const entry = { channel_id: target.context.channel_id, channel_name: target.context.channel_name, ...counts };
      perChannel.push(entry);
      try {
        await archiveChannel(run, target, counts);
      } catch (error) {
        if (error instanceof DpsError && error.code === 'DPS_RATE_LIMIT') {
          stopped ??= error;
          controller.abort(error); // the other channels stop too, as on SIGINT: in-flight files finish
        }
        if (!(error instanceof AccessError) || options.failOnChannelError) throw error;
        exitCode = Math.max(exitCode, ExitCode.access);
        hooks.log?.(`skipping ${describeTarget(target)}: ${error.message}`);
        hooks.emit?.(channelSkippedEvent(target.context, error.code === 'DPS_NOT_FOUND' ? 'not_found' : 'no_access', error.message));
      } finally {
        Object.assign(entry, counts);
      }
    });
    if (targets.denied > 0) exitCode = Math.max(exitCode, ExitCode.access);
    // Failed files of channels this run did not archive (deleted since, or no longer listed): their retry pass
    // still runs, so the files of a deleted channel become `gone` (skipped deleted) instead of pending forever.
    if (!options.retryOnly && !signal.aborted) {
      const archived = new Set(perChannel.map((c) => c.channel_id));
      const requested = new Set(options.channelIds);
      const excluded = new Set(options.excludeChannelIds);
      const wanted = (id: string): boolean => !archived.has(id) && !excluded.has(id) && (options.allChannels || requested.has(id));
      const orphans = await failedChannels(store, targets.guild, wanted, signal);
      await runConcurrently(orphans, options.channelConcurrency, signal, async (target) => {
        if (target.context.parent_id !== undefined && !options.threads) return;
        const counts = emptyCounts();
        live.push(counts);
        const entry = { channel_id: target.context.channel_id, channel_name: target.context.channel_name, ...counts };
        perChannel.push(entry);
        await retryFailed(run, target, counts)
          .catch((error: unknown) => {
            if (!(error instanceof AccessError)) throw error;
            hooks.log?.(`cannot retry the failed files of ${describeTarget(target)}: ${error.message}`);
          })
          .finally(() => Object.assign(entry, counts));
      });
    }
    completed = true;
  } catch (error) {
    if (stopped) fatal = stopped;
    else if (signal?.aborted && !(error instanceof DpsError && error.code !== 'DPS_ABORTED')) fatal = new AbortedError('aborted', { cause: error });
    else if (error instanceof DpsError) fatal = error;
    else throw error;
  } finally {
    // A run stopped by an error: the downloads still queued in its window must not start, retry or back off.
    if (fatal !== undefined && !signal.aborted) controller.abort(fatal);
    hooks.signal?.removeEventListener('abort', forwardAbort);
    signal.removeEventListener('abort', stopResolving);
    transfers.close();
    client.close();
    await agent.close().catch(() => undefined);
    if (completed && fatal === undefined && !signal.aborted) progressFile?.recovered(); // a recovery run that completed
    await progressFile?.close();
    await store.close().catch(() => undefined);
  }
  if (fatal && fatal.code !== 'DPS_ABORTED' && fatal.code !== 'DPS_RATE_LIMIT' && perChannel.length === 0 && !stopsWithSummary(fatal)) throw fatal;
  const totals = liveTotals();
  if (totals.failed > 0 && exitCode === ExitCode.ok) exitCode = ExitCode.partial;
  if (fatal?.code === 'DPS_ABORTED') {
    // The caller says why it stopped us (SIGINT 130, SIGTERM 143, a closed stdout 0).
    const reason: unknown = hooks.signal?.reason;
    exitCode = reason instanceof DpsError ? reason.exitCode : ExitCode.interrupted;
  } else if (fatal) exitCode = Math.max(exitCode, fatal.exitCode);
  const summary: SummaryEvent = {
    event: 'summary',
    channels: perChannel.length,
    ...totals,
    elapsed_ms: Date.now() - started,
    exit_code: exitCode,
    per_channel: perChannel,
  };
  if (fatal) summary.error = fatal.message;
  hooks.emit?.(summary);
  if (fatal && fatal.code !== 'DPS_ABORTED') hooks.log?.(`stopped: ${fatal.message}`);
  return { exitCode, totals, perChannel };
}

// One channel (or thread): first the items that failed in earlier runs, then the history from the cursor.
async function archiveChannel(run: RunContext, target: ChannelTarget, counts: Counts): Promise<void> {
  await retryFailed(run, target, counts);
  if (!run.options.retryOnly) await archiveHistory(run, target, counts);
}

// The retry pass: failed items with refreshed links, through the same download stages; the cursor is untouched.
async function retryFailed(run: RunContext, target: ChannelTarget, counts: Counts): Promise<void> {
  const { context } = target;
  const failed = failedItems(context, { store: run.store, refresher: run.refresher, signal: run.signal });
  const results = chainStages<ItemResult>(failed, downloadStages(run));
  const channelDone = run.options.retryOnly;
  await emitAll(run, checkpoint(results, { store: run.store, context, counts, saveCursor: false, channelDone }));
}

// The history pass: paginate -> flatten -> filter -> fetch(+write) -> checkpoint, from the cursor to the newest message.
async function archiveHistory(run: RunContext, target: ChannelTarget, counts: Counts): Promise<void> {
  const { options, store, signal } = run;
  const { context } = target;
  const windowed = options.after !== undefined || options.before !== undefined;
  const walkedWith = walkFilterOf({ types: options.types, maxSize: options.maxSize, embeds: options.media.embeds === true, stickers: options.media.stickers === true });
  let record = await store.getChannel(context.channel_id);
  // A windowed run neither moves the cursor nor records its filter; any other compares it with the record's.
  if (!windowed) record = await reconcileFilter(store, context, record, walkedWith, run.hooks);
  const cursor = options.fromStart ? undefined : record?.last_message_id;
  const after = maxSnowflake(cursor, options.after) ?? '0';
  run.hooks.log?.(`${describeTarget(target)}: ${cursor ? `resuming after message ${cursor}` : 'starting from the beginning'}`);

  let firstPage = true;
  const onPage = (messages: readonly APIMessage[]): void => {
    if (firstPage && looksLikeMissingIntent(messages, run.botId)) void checkIntent(run, target);
    firstPage = false;
  };
  const doneAbove = windowed || options.fromStart ? undefined : record?.done_above;
  const pages = paginate(context, { client: run.client, after, before: options.before, signal, onPage, doneAbove });
  // paginate -> flatten is a plain generator pair (paginate already keeps one page in flight): no buffered hop
  // holds whole pages, so the first bounded buffer holds items and marks, not hundreds of messages.
  const units = flatten(pages, options.media);
  const results = chainStages<ItemResult>(units, downloadStages(run, options.fromStart ? undefined : (record?.last_message_id ?? '0'), announcedBefore(record?.rewalk)));
  await emitAll(run, checkpoint(results, { store, context, counts, saveCursor: !windowed, beforePersist: run.hooks.flushEvents, walkedWith }));
}

// filter -> fetch(+write): shared by the history pass and the retry pass. `cursor`: the stored cursor (see filter).
function downloadStages(run: RunContext, cursor?: string, announced?: FilterOptions['announced']): Stage[] {
  const { options, store, signal } = run;
  return [
    (source) =>
      filter(source, {
        types: options.types,
        maxSize: options.maxSize,
        archived: (item) => archivedFor(store, item),
        announceAfter: cursor,
        announced,
      }),
    (source) =>
      fetch(source, {
        pool: run.pool,
        agent: run.agent,
        refresher: run.refresher,
        allowedOrigins: options.allowedOrigins,
        retries: options.retries,
        backoffMs: options.backoffMs,
        out: options.out,
        namePattern: options.namePattern,
        store,
        signal,
        transferSignal: run.hooks.hardSignal,
        transfers: run.transfers,
        timeoutMs: options.timeoutMs,
        onRetry: (retry) => run.hooks.log?.(retryLine(retry)),
        locks: run.locks,
        folders: run.folders,
        halt: (run.halt ??= {}),
        adoptFiles: run.adoptFiles,
      }),
  ];
}

// The record that makes an item already archived: its attachment's, when the file came from this very message;
// else this message's reference to it (a forward or embed of an attachment archived from another message). An
// attachment archived from another message, not yet referenced here, goes on to fetch (reference.ts).
async function archivedFor(store: Store, item: MediaItem): Promise<AttachmentRecord | undefined> {
  const record = await store.getAttachment(item.attachment_id);
  if (record?.status !== 'saved' || record.message_id === item.message_id) return record;
  return store.getReference(item.attachment_id, item.message_id);
}

// Prints the events of a pass; while the output is full (a paused reader) the pass waits, and with it every
// stage before it (bounded buffers), so a slow reader costs time, not memory. A stop does not wait for it.
async function emitAll(run: RunContext, events: AsyncIterable<DpsEvent>): Promise<void> {
  for await (const event of events) {
    const drained = run.hooks.emit?.(event);
    warnFor(run, event);
    if (drained) await untilDrained(drained, run.signal);
  }
}

// Resolves when `drained` does or the run is stopped, whichever comes first (the listener is removed either way).
async function untilDrained(drained: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return drained;
  if (signal.aborted) return;
  let onAbort: (() => void) | undefined;
  const stopped = new Promise<void>((resolve) => signal.addEventListener('abort', (onAbort = () => resolve()), { once: true }));
  try {
    await Promise.race([drained, stopped]);
  } finally {
    signal.removeEventListener('abort', onAbort!);
  }
}

// A first page that looks stripped: ask Discord once per run whether the Message Content intent is off.
function checkIntent(run: RunContext, target: ChannelTarget): Promise<void> {
  run.intentCheck ??= detectMessageContentIntent(run.client, { signal: run.signal }).then((enabled) => {
    if (enabled !== false) return;
    const detail =
      'the bot lacks the Message Content intent, so Discord sends every message without attachments: enable "Message Content Intent" ' +
      'under Bot -> Privileged Gateway Intents in the Developer Portal, then re-run with --from-start';
    run.hooks.log?.(`warning: ${detail}`);
    run.hooks.emit?.({ event: 'warning', code: 'message_content_intent', channel_id: target.context.channel_id, guild_id: target.context.guild_id, detail });
  }, () => undefined);
  return run.intentCheck;
}

function warnFor(run: RunContext, event: DpsEvent): void {
  if (event.event === 'skipped' && event.reason === 'too_large') run.hooks.log?.(`warning: skipped ${event.filename}: ${event.detail}`);
  if (event.event === 'failed') run.hooks.log?.(`warning: failed ${event.filename} (message ${event.message_id}): ${event.reason}`);
}

// A rate-limit wait longer than 10 s: one stderr line and a `warning` event (code rate_limited).
function announceWait(hooks: ArchiveHooks, wait: RateLimitWait): void {
  const line = longWaitLine(wait);
  hooks.log?.(line);
  const event: DpsEvent = { event: 'warning', code: 'rate_limited', detail: `${line}: Discord asked for it (Retry-After or an exhausted bucket)`, scope: wait.scope, wait_ms: wait.waitMs, until: isoSecond(wait.until) };
  if (wait.route !== undefined) event.route = wait.route;
  hooks.emit?.(event);
}

// "retrying a.png (message 123): http_503 (CDN answered 503), attempt 2 of 6"
function retryLine(retry: RetryNotice): string {
  return `retrying ${retry.item.filename} (message ${retry.item.message_id}): ${retry.reason} (${retry.detail}), attempt ${retry.attempt} of ${retry.attempts}`;
}

function describeTarget(target: ChannelTarget): string {
  return `#${target.context.channel_name} (${target.context.channel_id})`;
}

// Local storage errors (an unusable --out, a full disk) end the run with a summary even before any channel.
function stopsWithSummary(error: DpsError): boolean {
  return error.code === 'DPS_OUTPUT' || error.code === 'DPS_DISK_FULL';
}
