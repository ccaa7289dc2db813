// Download the selected items with bounded concurrency (one pool shared by every channel), emitting results in
// input order for the checkpoint. Each item goes through these steps, any of which may end it with a result:
//   1. known    (reference.ts)    already archived: skipped, or a reference to the first copy, with no request
//   2. turn     (folder-gate.ts)  the first download into a folder goes alone
//   3. adopt    (adopt.ts)        a file an earlier run wrote is hashed and recorded, not downloaded
//   4. claim    (claim-path.ts)   the path is claimed once, kept across retries, released when the item is done
//   5. get      (discord/download.ts) retrying network faults, 5xx, truncated bodies and size mismatches with
//               backoff and jitter, refreshing expired signed links
//   6. write    (write.ts)        the body to the claimed path
//   7. record   (dedupe.ts)       linked to an earlier copy of the same bytes, and recorded as saved

import { rm } from 'node:fs/promises';
import type { Dispatcher } from 'undici';
import { systemClock } from '../discord/clock.js';
import type { Clock } from '../discord/clock.js';
import { contentTypeMismatch, isExpired, openDownload } from '../discord/download.js';
import type { Renewal, UrlRefresher } from '../discord/refresh.js';
import { AbortedError, DiskFullError, hasCode, isDiskFull, isDiskFullError, isDpsError, outputErrorKind } from '../errors.js';
import type { DownloadError, DpsError } from '../errors.js';
import { outputError } from '../fs/output-check.js';
import type { FailedResult, ItemResult, MediaItem, SavedResult, SelectedUnit } from '../types.js';
import { backoff } from '../util/backoff.js';
import { orderedParallel } from '../util/ordered-parallel.js';
import type { Semaphore } from '../util/semaphore.js';
import type { StallWatch } from '../util/stall-watch.js';
import { adoptExisting } from './adopt.js';
import { claimPath, itemFolder } from './claim-path.js';
import type { Claim } from './claim-path.js';
import { dedupe } from './dedupe.js';
import { asDownloadPool, isCongestion } from './download-pool.js';
import type { DownloadPool } from './download-pool.js';
import { describeFailure, failedResult, failureReason } from './failure.js';
import { folderTurn } from './folder-gate.js';
import { resolveKnown } from './reference.js';
import { writeItem } from './write.js';
import type { WriteOptions, WrittenFile } from './write.js';
// Object storage (issue 26): the steps for --out s3://bucket/prefix.
import type { S3Target } from '../s3/destination.js';
import { adoptS3, claimKey, resolveKnownS3, saveToS3 } from './s3-save.js';

// How often one item's link may be refreshed in one run (each refresh is a request to Discord).
const MAX_REFRESHES = 3;

export interface FetchOptions extends WriteOptions {
  // Cancels transfers already started; `signal` only stops new ones (so SIGINT finishes in-flight files).
  transferSignal?: AbortSignal | undefined;
  // The run's download slots (download-pool.ts), told how each transfer went; a plain Semaphore is a fixed pool.
  pool: DownloadPool | Semaphore;
  agent: Dispatcher;
  refresher?: UrlRefresher | undefined;
  clock?: Clock | undefined; // the time links expire by (a test moves it) [the system clock]
  allowedOrigins?: readonly string[];
  retries: number; // attempts after the first
  backoffMs: number; // the first retry's base delay (util/backoff.ts)
  onRetry?: (retry: RetryNotice) => void; // before each retry of a file (after its backoff is chosen)
  timeoutMs?: number; // a download with no headers, or no data, for this long fails (and is retried) [60 s]
  transfers?: StallWatch; // cancels transfers that stall while the run is stopping
  // Shared by the run's downloads: the first error that stops the run (an unusable --out, a full disk); no
  // transfer starts once it is set.
  halt?: { error?: DpsError | undefined } | undefined;
  // The state lost records (a damaged LevelDB log, a deleted state): an unknown item's file already at its
  // attachment-specific path (adopt.ts), of the declared size, is hashed and recorded instead of downloaded.
  // Otherwise only a path the state holds this attachment's claim of is looked at: a user's own file of the
  // same size at a shared name must never be announced as the attachment's.
  adoptFiles?: boolean | undefined;
  // Object storage (issue 26): --out s3://bucket/prefix; undefined for a folder.
  s3?: S3Target | undefined;
}

// One retry of a file: which, why (the reason code its failure would have), and attempt n of m.
export interface RetryNotice {
  item: MediaItem;
  attempt: number; // the attempt about to start, from 2
  attempts: number; // retries + 1
  reason: string;
  detail: string;
}

// FetchOptions with the pool as a DownloadPool.
type Fetching = FetchOptions & { pool: DownloadPool };

// Yields one result per unit, in input order; marks, skipped and archived items pass straight through.
export async function* fetchFiles(source: AsyncIterable<SelectedUnit>, options: FetchOptions): AsyncGenerator<ItemResult> {
  const fetching: Fetching = { ...options, pool: asDownloadPool(options.pool) };
  const { pool } = fetching;
  const leave = pool.join();
  try {
    yield* orderedParallel(source, async (unit): Promise<ItemResult> => (unit.kind === 'item' ? fetchItem(unit, fetching) : unit), {
      window: () => reorderWindow(pool.size, pool.streams),
      signal: options.signal,
    });
  } finally {
    leave();
  }
}

// Units between input and output for one stream of a pool of `size` slots fed by `streams` streams: eight per
// slot of its share, following the pool as it moves; never fewer than a pool of 8 (the start of auto) had
// each, nor than 16.
export function reorderWindow(size: number, streams: number): number {
  return Math.max(16, Math.ceil((8 * size) / Math.max(1, streams)), Math.min(8 * size, 64));
}

// One item through the steps above. One attachment id is handled by one item at a time.
async function fetchItem(item: MediaItem, options: Fetching): Promise<ItemResult> {
  return options.locks.run(`attachment:${item.attachment_id}`, async () => {
    const known = await lookUpKnown(item, options);
    if (known !== 'download') return known;
    const done = await folderTurn(options.store, itemFolder(options, item), options.signal);
    try {
      return await fetchNew(item, options);
    } finally {
      done?.();
    }
  });
}

// The store is asked first: an attachment archived from another message (a forward, an embed of it) becomes a
// reference to the first copy, with no request (reference.ts).
async function lookUpKnown(item: MediaItem, options: FetchOptions): Promise<ItemResult | 'download'> {
  try {
    if (options.s3 !== undefined) return await resolveKnownS3(item, { ...options, s3: options.s3 }); // issue 26
    return await resolveKnown(item, options);
  } catch (error) {
    if (options.signal?.aborted) throw new AbortedError('aborted', { cause: options.signal.reason });
    if (isDiskFull(error) || hasCode(error, 'DPS_DISK_FULL')) throw diskFull(item, options, 'linking', error);
    return failedResult(item, error);
  }
}

// An item the store does not know: recorded gone or invalid, adopted from an earlier run's file, or claimed and
// downloaded. The claim is made here once, before the first GET, kept across retries (write.ts moves it past a
// taken name) and released here. A permanent failure becomes a `failed` result, fatal errors throw.
async function fetchNew(item: MediaItem, options: Fetching): Promise<ItemResult> {
  if (item.gone !== undefined) return { kind: 'skipped', item, reason: 'deleted', detail: item.gone }; // recorded gone: never again
  if (item.invalid !== undefined) return failedResult(item, undefined, 'invalid_attachment', item.invalid); // nothing to fetch
  // An item the state does not know whose file an earlier run already wrote: recorded, not downloaded again.
  const adopted =
    options.s3 !== undefined ? await adoptS3(item, { ...options, s3: options.s3 }) : await adoptExisting(item, options, options.adoptFiles === true);
  if (adopted !== undefined) return adopted;
  // The path is claimed, and the claim queued for the state, before any byte is fetched (Store.claimPath):
  // a run killed once the file is renamed into place, before its record is written, adopts it next time.
  let claim: Claim;
  try {
    claim = options.s3 !== undefined ? await claimKey(item, { ...options, s3: options.s3 }) : await claimPath(item, options);
  } catch (error) {
    if (hasCode(error, 'DPS_DOWNLOAD')) return failedResult(item, error); // no free name
    throw error;
  }
  try {
    return await transfer(item, claim, options);
  } finally {
    options.store.releaseClaim(claim.path, item.attachment_id); // recorded, or no longer wanted
  }
}

// The download attempts, with retries and link refreshes. Expired links are refreshed (at most MAX_REFRESHES
// times, outside the download slot) without using up a retry: a link can expire again while its item waits for
// a slot when the links' lifetime is short.
async function transfer(item: MediaItem, claim: Claim, options: Fetching): Promise<ItemResult> {
  const { retries, backoffMs } = options;
  let url = item.url;
  let refreshes = 0;
  let lastError: unknown;
  const canRefresh = (): boolean => options.refresher !== undefined && refreshes < MAX_REFRESHES;
  const clock = options.clock ?? systemClock;
  if (canRefresh() && isExpired(url, clock.now(), 5_000)) {
    refreshes++;
    url = (await refreshUrl(item, options)) ?? url;
  }
  for (let attempt = 0; attempt <= retries; attempt++) {
    options.signal?.throwIfAborted();
    let expired = false;
    const release = await options.pool.acquire(options.signal);
    try {
      // The link may have expired while this item waited for its slot: refresh it instead of asking the CDN.
      if (canRefresh() && isExpired(url, clock.now(), 1_000)) expired = true;
      else return await getAndSave({ ...item, url }, claim, options, release);
    } catch (error) {
      if (options.signal?.aborted) throw new AbortedError('aborted', { cause: options.signal.reason });
      if (hasCode(error, 'DPS_OUTPUT_UNSAFE')) halt(options, error); // no other transfer starts
      if (hasCode(error, 'DPS_S3_AUTH', 'DPS_S3_ACCESS')) throw halt(options, error); // issue 26: the bucket refuses every file
      if (hasCode(options.halt?.error, 'DPS_OUTPUT_UNSAFE')) return unsafe(item, options.halt.error);
      if (options.halt?.error) throw options.halt.error;
      if (options.s3 !== undefined && hasCode(error, 'DPS_DISK_FULL')) throw halt(options, error); // issue 26: a full quota says so
      if (isDiskFull(error) || hasCode(error, 'DPS_DISK_FULL')) {
        // The state's own full disk (lib/store/write-errors.ts) already names the state directory.
        throw halt(options, isDiskFullError(error, 'state') ? error : diskFull(item, options, 'writing', error));
      }
      // A local write error is not the network's: the folder refusing this file refuses every file (stop the
      // run), a path refused on its own (a folder where the file goes) fails this item; neither is retried.
      const local = outputErrorKind(error);
      if (local === 'folder') throw halt(options, outputError(options.out, error));
      if (local === 'file') return failedResult(item, error, 'output_unwritable');
      lastError = error;
      if (isCongestion(error)) options.pool.congested(); // before the slot is given back
      if (hasCode(error, 'DPS_DOWNLOAD') && (error as DownloadError).expired) {
        if (!canRefresh()) return failedResult(item, error);
        expired = true;
      } else if (!isRetryable(error)) break;
    } finally {
      release();
    }
    if (expired) {
      refreshes++;
      // A link refused while still live means the file, not the signature, is missing: ask for the message.
      const renewal = await renewLink(item, url, options);
      if (renewal.gone !== undefined) return { kind: 'skipped', item, reason: 'deleted', detail: renewal.gone };
      const fresh = renewal.url;
      if (!fresh) return failedResult(item, undefined, 'expired', 'the link expired and could not be refreshed (attachment deleted?)');
      url = fresh;
      attempt--; // an expired link is not a fault of the download: it does not use up a retry
      continue;
    }
    if (attempt < retries) {
      options.onRetry?.({ item, attempt: attempt + 2, attempts: retries + 1, reason: failureReason(lastError), detail: describeFailure(lastError) });
      await backoff(attempt, backoffMs, options.signal, isDpsError(lastError) ? lastError.retryAfterMs : undefined);
    }
  }
  return failedResult(item, lastError);
}

// One attempt, holding a download slot (`release` gives it back): the GET, the content-type check, the write to
// the claimed path (write.ts), then dedupe and record (dedupe.ts). A started transfer is finished even when the
// run is asked to stop (SIGINT): only `transferSignal` cancels it; once the run is stopping, the watch cancels it
// too when it stalls (nothing received for the grace).
async function getAndSave(item: MediaItem, claim: Claim, options: Fetching, release: () => void): Promise<SavedResult> {
  if (options.halt?.error) throw options.halt.error;
  const watched = options.transfers?.begin();
  const signal = watched?.signal ?? options.transferSignal;
  const opened = await openDownload(item.url, {
    agent: options.agent,
    signal,
    allowedOrigins: options.allowedOrigins ?? [],
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
  }).catch((error: unknown) => {
    watched?.end();
    throw error;
  });
  const body = watched ? watched.track(opened.body) : opened.body;
  try {
    const mismatch = contentTypeMismatch(item, opened.contentType); // an HTML page is not saved as .png
    if (mismatch) throw mismatch;
    const saving = { ...options, signal };
    // The slot is for the transfer: it passes on once the body is in, while the file is fsynced and recorded;
    // the pool learns the transfer's size then (its throughput decides how many run at once).
    const received = (): void => {
      release();
      options.pool.transferred(opened.contentLength ?? item.size ?? 0);
    };
    if (options.s3 !== undefined) return await saveToS3(item, body, claim, { ...saving, s3: options.s3, onReceived: received }, opened.contentLength); // issue 26
    const file = await writeItem(item, body, claim, { ...saving, onReceived: received }, opened.contentLength);
    return withSidecar(await dedupe(item, file.path, file, saving), file);
  } catch (error) {
    // A write refused before reading (a symlink in --out, a path error) must not leave the body unread:
    // it would hold one of the Agent's connections forever and the run would stall.
    await opened.body.dump().catch(() => undefined);
    throw error;
  } finally {
    watched?.end();
  }
}

// A file whose sidecar the disk thread wrote with it (write.ts): the result says so, and the metadata stage leaves
// it alone. A duplicate's sidecar must also say which copy it duplicates: the stage rewrites it (it replaces its
// own sidecar); one removed in favour of the first copy (no hard links) has no name of its own, nor a sidecar.
async function withSidecar(result: SavedResult, file: WrittenFile): Promise<SavedResult> {
  if (file.sidecar !== true) return result;
  if (result.duplicate_of === undefined) result.sidecar = true;
  else if (result.path !== file.path) await rm(`${file.path}.json`, { force: true });
  return result;
}

// A full disk stops the run, naming --out and the file.
function diskFull(item: MediaItem, options: FetchOptions, doing: 'linking' | 'writing', cause: unknown): DiskFullError {
  return new DiskFullError(`disk full: no space left in ${options.out} while ${doing} ${item.filename}; free some space and re-run to resume`, { cause });
}

// An output folder swapped during the run (this item's, or another's: the run is stopping): the item fails with
// reason output_unsafe, and the checkpoint stops the run once it has announced the first such failure.
function unsafe(item: MediaItem, error: DpsError): FailedResult {
  return { ...failedResult(item, error), stop: error };
}

// Remember the error that stops the run, so no other download starts a transfer it could not write.
function halt(options: FetchOptions, error: DpsError): DpsError {
  if (options.halt) options.halt.error ??= error;
  return error;
}

// A fresh link for an item whose link the CDN refused: refresh-urls when the link had expired, the message itself
// when it had not (lib/discord/refresh.ts), which also tells whether the file is gone.
async function renewLink(item: MediaItem, refused: string, options: FetchOptions): Promise<Renewal> {
  const refresher = options.refresher;
  if (refresher === undefined) return {};
  const target = { channelId: item.context.channel_id, messageId: item.message_id, attachmentId: item.attachment_id };
  if (isExpired(refused, (options.clock ?? systemClock).now())) return refresher.renew({ ...target, url: item.url });
  return refresher.locate(target);
}

async function refreshUrl(item: MediaItem, options: FetchOptions): Promise<string | undefined> {
  return options.refresher?.refresh({
    url: item.url,
    channelId: item.context.channel_id,
    messageId: item.message_id,
    attachmentId: item.attachment_id,
  });
}

// Network resets, truncated bodies and timeouts are retried; our own errors say whether they may be.
function isRetryable(error: unknown): boolean {
  if (hasCode(error, 'DPS_DOWNLOAD')) return (error as DownloadError).retryable;
  return !isDpsError(error);
}
