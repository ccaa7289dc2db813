// Stage 4: download the selected items with bounded concurrency (one pool shared by every channel),
// retrying network faults, 5xx, truncated bodies and size mismatches with exponential backoff and jitter,
// refreshing expired signed links, and emitting results in input order for the checkpoint.

import { setTimeout as sleep } from 'node:timers/promises';
import type { Dispatcher } from 'undici';
import { isExpired, openDownload } from '../discord/download.js';
import type { UrlRefresher } from '../discord/refresh.js';
import { AbortedError, DiskFullError, DownloadError, DpsError, isDiskFull, OutputUnsafeError } from '../errors.js';
import type { FailedResult, FilteredUnit, ItemResult, MediaItem, SavedResult } from '../types.js';
import { orderedParallel } from '../util/ordered-parallel.js';
import type { Semaphore } from '../util/semaphore.js';
import { writeItem } from './write.js';
import type { WriteOptions } from './write.js';

// How often one item's link may be refreshed in one run (each refresh is a request to Discord).
const MAX_REFRESHES = 3;

export interface FetchOptions extends WriteOptions {
  // Cancels transfers already started; `signal` only stops new ones (so SIGINT finishes in-flight files).
  transferSignal?: AbortSignal | undefined;
  pool: Semaphore; // shared download slots
  agent: Dispatcher;
  refresher?: UrlRefresher | undefined;
  allowedOrigins?: readonly string[];
  retries?: number; // attempts after the first
  backoffMs?: number;
  window?: number; // units between input and output (default 8 x pool size)
  onAttempt?: (item: MediaItem, attempt: number, error: unknown) => void;
}

// Yields one result per unit, in input order; marks and skipped items pass straight through.
export function fetch(source: AsyncIterable<FilteredUnit | SavedResult>, options: FetchOptions): AsyncGenerator<ItemResult> {
  const window = options.window ?? Math.max(16, options.pool.size * 8);
  return orderedParallel(
    source,
    async (unit): Promise<ItemResult> => (unit.kind === 'item' ? download(unit, options) : unit),
    { window, signal: options.signal },
  );
}

// Downloads one item, with retries; a permanent failure becomes a `failed` result, fatal errors throw.
// Expired links are refreshed (at most MAX_REFRESHES times, outside the download slot) without using up a
// retry: a link can expire again while its item waits for a slot when the links' lifetime is short.
export async function download(item: MediaItem, options: FetchOptions): Promise<ItemResult> {
  const retries = options.retries ?? 5;
  const backoffMs = options.backoffMs ?? 500;
  let url = item.url;
  let refreshes = 0;
  let lastError: unknown;
  const canRefresh = (): boolean => options.refresher !== undefined && refreshes < MAX_REFRESHES;
  if (canRefresh() && isExpired(url, Date.now(), 5_000)) {
    refreshes++;
    url = (await refreshUrl(item, options)) ?? url;
  }
  for (let attempt = 0; attempt <= retries; attempt++) {
    options.signal?.throwIfAborted();
    let expired = false;
    const release = await options.pool.acquire(options.signal);
    try {
      // The link may have expired while this item waited for its slot: refresh it instead of asking the CDN.
      if (canRefresh() && isExpired(url, Date.now(), 1_000)) expired = true;
      else {
        // A started transfer is finished even when the run is asked to stop (SIGINT): only `transferSignal` cancels it.
        const transfer = options.transferSignal;
        const opened = await openDownload(url, { agent: options.agent, signal: transfer, allowedOrigins: options.allowedOrigins ?? [] });
        try {
          // The slot is for the transfer: it passes on once the body is in, while the file is fsynced and recorded.
          return await writeItem({ ...item, url }, opened.body, { ...options, signal: transfer, onReceived: release }, opened.contentLength);
        } catch (error) {
          // A write refused before reading (a symlink in --out, a path error) must not leave the body unread:
          // it would hold one of the Agent's connections forever and the run would stall.
          await opened.body.dump().catch(() => undefined);
          throw error;
        }
      }
    } catch (error) {
      if (options.signal?.aborted) throw new AbortedError('aborted', { cause: options.signal.reason });
      if (isDiskFull(error) || error instanceof DiskFullError) {
        const message = `disk full: no space left in ${options.out} while writing ${item.filename}; free some space and re-run to resume`;
        throw new DiskFullError(message, { cause: error });
      }
      lastError = error;
      options.onAttempt?.(item, attempt, error);
      if (error instanceof DownloadError && error.expired) {
        if (!canRefresh()) return failed(item, error);
        expired = true;
      } else if (!isRetryable(error)) break;
    } finally {
      release();
    }
    if (expired) {
      refreshes++;
      const fresh = await refreshUrl(item, options);
      if (!fresh) return failed(item, undefined, 'expired', 'the link expired and could not be refreshed (attachment deleted?)');
      url = fresh;
      attempt--; // an expired link is not a fault of the download: it does not use up a retry
      continue;
    }
    if (attempt < retries) await backoff(attempt, backoffMs, lastError, options.signal);
  }
  // An output folder swapped during the run: this item fails (reason output_unsafe), then the run stops.
  if (lastError instanceof OutputUnsafeError) return { ...failed(item, lastError), stop: lastError };
  return failed(item, lastError);
}

async function refreshUrl(item: MediaItem, options: FetchOptions): Promise<string | undefined> {
  return options.refresher?.refresh({
    url: item.url,
    channelId: item.context.channel_id,
    messageId: item.message_id,
    attachmentId: item.attachment_id,
  });
}

function isRetryable(error: unknown): boolean {
  if (error instanceof DownloadError) return error.retryable;
  if (error instanceof DpsError) return false;
  return true; // network resets, truncated bodies, size mismatches, timeouts
}

async function backoff(attempt: number, baseMs: number, error: unknown, signal: AbortSignal | undefined): Promise<void> {
  const hinted = (error as { retryAfterMs?: number } | undefined)?.retryAfterMs;
  const cap = Math.min(30_000, baseMs * 2 ** attempt);
  const delay = hinted !== undefined ? Math.min(hinted, 60_000) : cap / 2 + Math.random() * (cap / 2);
  try {
    await sleep(delay, undefined, signal ? { signal } : undefined);
  } catch {
    throw new AbortedError('aborted', { cause: signal?.reason });
  }
}

// A failed result: `reason` is a stable code scripts can filter on, `detail` the human explanation.
function failed(item: MediaItem, error: unknown, reason = failureCode(error), detail = describe(error)): FailedResult {
  const status = (error as { status?: unknown } | undefined)?.status;
  return { kind: 'failed', item, reason, detail, status: typeof status === 'number' ? status : undefined };
}

function failureCode(error: unknown): string {
  const status = (error as { status?: unknown } | undefined)?.status;
  const message = error instanceof Error ? error.message : String(error);
  if (typeof status === 'number') return `http_${status}`;
  if (/size mismatch|Content-Length said|received \d+ bytes/i.test(message)) return 'size_mismatch';
  if (/refusing to download/i.test(message)) return 'refused_host';
  if (/redirect/i.test(message)) return 'too_many_redirects';
  if (error instanceof DpsError) return error.code.toLowerCase().replace(/^dps_/, '');
  return 'network';
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message.replace(/\s+/g, ' ').slice(0, 300);
  return String(error);
}
