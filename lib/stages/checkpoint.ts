// The last stage: results arrive in the order their pages were walked. Walking up, when the last result of message M
// is recorded every message <= M is durably done: that is the watermark stored as the channel's cursor. Walking
// down from the snapshot S (lib/discord/pages.ts), when message M is done so is every message from M to S:
// that span is stored beside the cursor (ChannelRecord.done_above), and when the walks meet the cursor jumps
// to S. Failures are recorded (record.ts) for retry-first on the next run, before the cursor moves past them;
// every result becomes an NDJSON event.

import type { ChannelPatch, Store } from '../store/store.js';
import type { ChannelContext, DoneSpan, ItemResult, MessageMark, WalkFilter } from '../types.js';
import { channelDoneEvent, failedEvent, savedEvent, skippedEvent } from '../output/events.js';
import type { Counts, DpsEvent } from '../output/events.js';
import { recordFailure } from './record.js';

export interface CheckpointOptions {
  store: Store;
  context: ChannelContext;
  counts: Counts; // updated in place, so progress reporting can read it live
  saveCursor: boolean; // false when a --after/--before window makes "everything <= cursor is done" untrue
  flushEveryMs?: number; // how often the cursor is written while running (it is always written at the end)
  channelDone?: boolean; // emit channel_done at the end (default true; false for the retry-failed pass)
  beforePersist?: (() => void) | undefined; // the events yielded so far must be out before the cursor moves past them
  walkedWith?: WalkFilter | undefined; // the run's filter, recorded with the cursor (lib/store/walked-with.ts)
  // Where the watermark goes instead of the channel's cursor: `dps follow`'s live messages (lib/follow.ts), which
  // move the cursor only when nothing below them can be missing, and otherwise record a span above it.
  persist?: ((watermark: string | undefined, doneAbove: DoneSpan | undefined) => Promise<void>) | undefined;
}

// Records every result and yields its event; persists the watermark periodically, at the end, and on abort.
export async function* checkpoint(source: AsyncIterable<ItemResult>, options: CheckpointOptions): AsyncGenerator<DpsEvent> {
  const { store, context, counts } = options;
  const flushEveryMs = options.flushEveryMs ?? 1000;
  let watermark: string | undefined;
  let persisted: string | undefined;
  let doneAbove: DoneSpan | undefined; // what the walk down has finished
  let persistedAbove: DoneSpan | undefined;
  let lastFlush = Date.now();
  let complete = false;

  const flush = async (): Promise<void> => {
    if (!options.saveCursor || (watermark === persisted && doneAbove === persistedAbove)) return;
    options.beforePersist?.();
    if (options.persist !== undefined) await options.persist(watermark, doneAbove);
    else await store.advanceCursor(context.channel_id, watermark, channelPatch(context), doneAbove, options.walkedWith);
    persisted = watermark;
    persistedAbove = doneAbove;
    lastFlush = Date.now();
  };

  // The results of a message are reported (counted and printed) once its last result is in: a run stopped
  // part-way through a message (SIGINT before its later files started) keeps the cursor before it, and the next
  // run announces the files already saved from their records (filter's announceAfter); printed now, they would
  // be reported twice.
  let held: FileResult[] = [];
  const release = function* (): Generator<DpsEvent> {
    const results = held;
    held = [];
    for (const result of results) yield report(result, counts);
  };

  try {
    for await (const result of source) {
      switch (result.kind) {
        case 'saved':
          held.push(result);
          break;
        case 'skipped':
          await recordFailure(store, result); // a file whose message is gone
          held.push(result);
          break;
        case 'archived':
          held.push(result);
          break;
        case 'failed':
          if (result.stop !== undefined) {
            // A failure that stops the run (an unsafe output folder): announced now, then the run ends. Not
            // recorded as failed: the cursor stays before its message, so the next run's walk takes it again
            // and announces the message's other files (a failed record would have the retry pass fetch it too,
            // and the walk announce it a second time).
            counts.failed++;
            yield failedEvent(result);
            throw result.stop;
          }
          await recordFailure(store, result);
          held.push(result);
          break;
        case 'mark':
          break;
      }
      const messageDone = result.kind === 'mark' || ('item' in result && result.item.last_of_message);
      if (messageDone) {
        yield* release();
        counts.messages += result.kind === 'mark' ? result.messages : 1;
        const unit = result.kind === 'mark' ? result : result.item;
        if (unit.down === undefined) watermark = unit.message_id;
        else doneAbove = { from: unit.message_id, to: unit.down };
        if (Date.now() - lastFlush >= flushEveryMs) await flush();
      }
    }
    yield* release(); // a source that ends mid-message (none does) still reports everything it finished
    complete = true;
  } finally {
    // Runs on success, on error and on abort: everything up to the watermark is recorded, so saving it is safe.
    await flush();
    if (options.saveCursor && watermark === undefined && doneAbove === undefined)
      await store.advanceCursor(context.channel_id, undefined, channelPatch(context));
  }
  if (options.channelDone === false) return;
  const record = await store.getChannel(context.channel_id);
  yield channelDoneEvent(context, counts, record?.last_message_id ?? watermark, complete);
}

type FileResult = Exclude<ItemResult, MessageMark>;

// One file's result, counted and turned into its event.
function report(result: FileResult, counts: Counts): DpsEvent {
  switch (result.kind) {
    case 'saved':
      counts.saved++;
      counts.bytes += result.bytes;
      if (result.duplicate_of !== undefined) counts.duplicates++;
      return savedEvent(result);
    case 'failed':
      counts.failed++;
      return failedEvent(result);
    case 'skipped':
      counts.skipped++;
      return skippedEvent(result);
    case 'archived': {
      // An earlier run's file: announced from its record when its event was never printed, else skipped.
      const { item, path, bytes, sha256, duplicate_of } = result;
      return report(
        result.announce ? { kind: 'saved', item, path, bytes, sha256, duplicate_of } : { kind: 'skipped', item, reason: 'already_archived' },
        counts,
      );
    }
  }
}

export function channelPatch(context: ChannelContext): ChannelPatch {
  return {
    guild_id: context.guild_id,
    guild_name: context.guild_name,
    channel_name: context.channel_name,
    parent_id: context.parent_id,
    parent_name: context.parent_name,
    parent_type: context.parent_type, // a forum post or a thread, for the gallery (issue 25)
  };
}
