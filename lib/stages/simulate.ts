// simulate (a dry run, --dry-run): in place of fetch and checkpoint. Each file a real run would save becomes a
// `would_save` event with the path a real run would give it and Discord's declared size; every other unit becomes
// the event a real run prints for it (skipped, failed), and the channel ends with its channel_done. Nothing is
// requested, nothing is written to --out, no cursor moves: the store is the dry run's copy of the state
// (lib/store/open.ts openStoreCopy), in which the names handed out are claimed as a real run claims them
// (claim-path.ts, held in memory), so two files never get one path. Per file: a few store reads; --out is only
// looked at (an lstat) for a file an interrupted run may have left under this attachment's claim (adopt.ts).

import fs from 'node:fs/promises';
import { hasCode } from '../errors.js';
import { channelDoneEvent, failedEvent, skippedEvent, wouldSaveEvent } from '../output/events.js';
import type { Counts, DpsEvent, DryRunCounts } from '../output/events.js';
import { referenceKey } from '../store/store.js';
import type { Store } from '../store/store.js';
import type { ArchivedItem, ChannelContext, MediaItem, SkippedItem } from '../types.js';
import type { SelectedUnit } from '../types.js';
import { uniquePerAttachment } from './adopt.js';
import { archivedRecords } from './archived.js';
import { candidatePaths, claimPath } from './claim-path.js';
import { failedResult } from './failure.js';
import type { S3Target } from '../s3/destination.js'; // issue 26: a dry run with --out s3://
import { dryClaimKey, wouldAdoptS3 } from './s3-simulate.js';

// The attachments this dry run would save (by id, across its channels): the message and path of the first. A
// real run references a later sighting from another message (a forward) without downloading it.
export type DrySeen = Map<string, { message_id: string; path: string }>;

export interface SimulateOptions {
  store: Store; // the dry run's copy of the state: read, and claimed in (never the state itself)
  out: string;
  namePattern: string;
  pathPattern?: string | undefined; // --path-pattern (claim-path.ts)
  context: ChannelContext;
  counts: Counts & DryRunCounts; // updated in place, so progress reporting can read it live
  seen: DrySeen; // shared by the run's channels
  retry?: boolean | undefined; // the failed-file queue (its files are marked `retry`)
  recovering?: boolean | undefined; // the state lost records: a real run adopts more files (FetchOptions.adoptFiles)
  channelDone?: boolean | undefined; // emit channel_done at the end (default true)
  cursor?: string | undefined; // channel_done's cursor: the stored one, which a dry run does not move
  signal?: AbortSignal | undefined;
  s3?: S3Target | undefined; // --out s3:// (issue 26): keys as `s3://bucket/key`, the bucket only read (s3-simulate.ts)
}

// Yields the event of every unit, in order, then the channel's channel_done.
export async function* simulate(source: AsyncIterable<SelectedUnit>, options: SimulateOptions): AsyncGenerator<DpsEvent> {
  const { counts } = options;
  for await (const unit of source) {
    options.signal?.throwIfAborted();
    if (unit.kind === 'mark') {
      counts.messages += unit.messages;
      continue;
    }
    yield await judge(unit, options);
    if (unit.kind === 'item' ? unit.last_of_message : unit.item.last_of_message) counts.messages++;
  }
  if (options.channelDone !== false) yield channelDoneEvent(options.context, counts, options.cursor, true);
}

// One file's event, counted.
async function judge(unit: MediaItem | SkippedItem | ArchivedItem, options: SimulateOptions): Promise<DpsEvent> {
  const { counts } = options;
  if (unit.kind === 'skipped') return skipped(unit.item, unit.reason, options, unit.detail);
  if (unit.kind === 'archived') {
    // A file an interrupted run saved but never announced: a real run announces it as `saved` from its record,
    // downloading nothing; listed so that would_save matches the real run's saved events one for one.
    if (unit.announce) return saved(unit.item, unit.path, options, { duplicate_of: unit.duplicate_of, archived: true });
    return skipped(unit.item, 'already_archived', options); // no event of it is owed: nothing to do
  }
  const item = unit;
  const known = options.seen.get(item.attachment_id);
  if (known?.message_id === item.message_id) return skipped(item, 'already_archived', options); // the retry pass's file, walked again
  if (known !== undefined) return reference(item, known.path, options);
  const { first, own } = await archivedRecords(options.store, item);
  if (first?.status === 'saved' && first.path !== undefined && first.sha256 !== undefined && first.bytes !== undefined) {
    if (own?.status === 'saved') return skipped(item, 'already_archived', options);
    return reference(item, first.path, options);
  }
  if (item.gone !== undefined) return skipped(item, 'deleted', options, item.gone);
  // A failed file without a usable link (the dry run refreshes none): a real run's retry asks for its message.
  if (item.invalid !== undefined && options.retry !== true) {
    counts.failed++;
    return failedEvent(failedResult(item, undefined, 'invalid_attachment', item.invalid));
  }
  const adopted = options.s3 !== undefined ? await wouldAdoptS3(item, { ...options, s3: options.s3 }) : await wouldAdopt(item, options);
  if (adopted !== undefined) {
    options.seen.set(item.attachment_id, { message_id: item.message_id, path: adopted });
    return saved(item, adopted, options, { adopted: true });
  }
  let path: string;
  try {
    path = (options.s3 !== undefined ? await dryClaimKey(item, { ...options, s3: options.s3 }) : await claimPath(item, options)).path;
  } catch (error) {
    if (!hasCode(error, 'DPS_DOWNLOAD')) throw error;
    counts.failed++;
    return failedEvent(failedResult(item, error)); // no free name, as in a real run
  }
  options.seen.set(item.attachment_id, { message_id: item.message_id, path });
  counts.would_download++;
  if (item.size === undefined) counts.would_save_unsized++;
  else counts.would_save_bytes += item.size;
  return saved(item, path, options, {});
}

function skipped(item: MediaItem, reason: SkippedItem['reason'], options: SimulateOptions, detail?: string): DpsEvent {
  options.counts.skipped++;
  return skippedEvent({ kind: 'skipped', item, reason, ...(detail !== undefined ? { detail } : {}) });
}

function saved(
  item: MediaItem,
  path: string,
  options: SimulateOptions,
  how: { duplicate_of?: string | undefined; adopted?: boolean; archived?: boolean },
): DpsEvent {
  options.counts.would_save++;
  return wouldSaveEvent(item, path, { ...how, retry: options.retry });
}

// An attachment archived, or counted, from another message: a real run hard-links the first copy at this
// message's own path (reference.ts), downloading nothing. The path is claimed as the reference's.
async function reference(item: MediaItem, first: string, options: SimulateOptions): Promise<DpsEvent> {
  const owner = referenceKey(item.attachment_id, item.message_id);
  const claim = options.s3 !== undefined ? dryClaimKey(item, { ...options, s3: options.s3 }, 0, owner) : claimPath(item, options, 0, owner);
  const path = await claim.then(
    (claim) => claim.path,
    () => first, // no free name: a real run points the record at the first copy
  );
  return saved(item, path, options, { duplicate_of: first });
}

// The file an interrupted run wrote for this item, which a real run hashes and records instead of downloading
// (adopt.ts, same paths and conditions, without the hash): a file of the declared size at a path the state holds
// this attachment's claim of (or, in a recovery run, its attachment-specific path).
async function wouldAdopt(item: MediaItem, options: SimulateOptions): Promise<string | undefined> {
  if (item.size === undefined || item.size <= 0) return undefined;
  const { path, suffixedPath } = candidatePaths(item, options);
  for (const candidate of suffixedPath === path ? [path] : [suffixedPath, path]) {
    const claimed = (await options.store.storedClaim(candidate)) === item.attachment_id;
    if (!claimed && !(options.recovering === true && (candidate === suffixedPath || uniquePerAttachment(options.namePattern)))) continue;
    const stat = await fs.lstat(candidate).catch(() => undefined);
    if (!stat?.isFile() || stat.size !== item.size) continue;
    if (await options.store.claimPath(candidate, item.attachment_id)) return candidate;
  }
  return undefined;
}
