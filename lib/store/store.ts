// The Store class: channel cursors and counters, one record per attachment, a content-hash index for dedupe,
// claimed file paths and a retry queue of failed items, over any abstract-level database (open.ts opens one).

import path from 'node:path';
import type { AbstractBatchOperation, AbstractLevel, AbstractSublevel } from 'abstract-level';
import type { AttachmentRecord, ChannelRecord, DoneSpan, WalkFilter } from '../types.js';
import { translateWriteError } from './write-errors.js';
import { intersect } from './walked-with.js';
import { KeyedLock } from '../util/keyed-lock.js';
import { compareSnowflakes } from '../util/snowflake.js';

// Any abstract-level database with string keys (the store sets JSON value encodings itself).
// Level and MemoryLevel both store strings or bytes; records are JSON (valueEncoding 'json' on each sublevel).
type Format = string | Buffer | Uint8Array;
export type StoreDb = AbstractLevel<Format, string, unknown>;
type Sub<V> = AbstractSublevel<StoreDb, Format, string, V>;
type Ops = AbstractBatchOperation<StoreDb, string, unknown>[];

// Where the first copy of some bytes was written.
export interface HashEntry {
  path: string;
  attachment_id: string;
}

// A channel's messages.ndjson: its path and the byte length whose lines are indexed (metadataFiles). An object's
// log (--out s3://, lib/stages/s3-metadata-channel.ts) keeps its lines in the state instead: `lines` of them
// (numbered from 0), of which the object holds the first `uploaded`; `length` stays 0.
export interface MetadataLog {
  path: string;
  length: number;
  lines?: number | undefined;
  uploaded?: number | undefined;
}

// An object log's line key: channel, then its number zero-padded, so a range read yields the lines in order.
function metadataLineKey(channelId: string, n: number): string {
  return `line!${channelId}!${String(n).padStart(15, '0')}`;
}

// The window of sidecars not yet durable (Store.sidecarWindow): from `since` (an ISO time) on, in `out`, written
// during boot `boot` (lib/fs/syncfs.ts bootId; undefined where unknown).
export interface SidecarWindow {
  since: string;
  out: string;
  boot?: string | undefined;
}
const SIDECAR_WINDOW = 'sidecars!unsynced';
// Set once the 'pathjson' sublevel lists every claim of a name ending in `.json` (Store.claimOf).
const JSON_CLAIMS_INDEXED = 'pathjson!indexed';

// dps gallery (lib/gallery): what decoding a file found, per sha256, so no later run decodes it again. d: the
// 64-bit dHash as 16 hex digits (null: not an image it could decode); w, h: pixels after EXIF rotation (0
// unknown); k: 0 image, 1 animated image; bad: why decoding failed (a placeholder, never retried).
export interface GalleryEntry {
  d: string | null;
  w: number;
  h: number;
  k: number;
  bad?: string | undefined;
}

// A saved attachment always has its hash and path.
export type SavedRecord = AttachmentRecord & { sha256: string; path: string };

// Channel fields a caller may update; the cursor moves only through advanceCursor's messageId, and the
// counters are maintained by recordSaved/recordFailed in the same batch as the record they count.
// Undefined fields are ignored (they never erase a stored value).
type PatchableChannelField = Exclude<keyof ChannelRecord, 'channel_id' | 'last_message_id' | 'done_above' | 'total_images' | 'failed' | 'windows'>;
export type ChannelPatch = { [K in PatchableChannelField]?: ChannelRecord[K] | undefined };

// One entry of the retry queue: the failed record, with the URL to retry if it is still known.
export type FailedEntry = AttachmentRecord & { status: 'failed' };

// Failed-queue key: channel, then message id zero-padded so the queue iterates oldest message first.
function failedKey(rec: Pick<AttachmentRecord, 'channel_id' | 'message_id' | 'attachment_id'>): string {
  return `${rec.channel_id}!${rec.message_id.padStart(20, '0')}!${rec.attachment_id}`;
}

// pathKey's fast path (below).
const PRINTABLE_ASCII = /^[ -~]*$/;
const NORMAL_AS_IS = path.sep === '/'; // win32's normalize also turns '/' into '\\'
const NOT_NORMAL = /\/\/|(?:^|\/)\.\.?(?:\/|$)/; // what POSIX normalize changes: empty, '.' and '..' segments

// Path claims are compared the way the strictest file system would: macOS and Windows ignore case, and macOS
// Unicode normalisation, so `A.png` and `a.png`, or `é` composed and decomposed, are one name. Compatibility
// normalisation and a full case fold (upper then lower: `ß` -> `ss`) make more names collide than any file
// system does, never fewer: a false collision only costs a suffixed name, a missed one would cost a file.
// Most paths are printable ASCII, where NFKC changes nothing and the full case fold is toLowerCase: they skip the
// Unicode passes, and on POSIX a path already normal (no '//', no '.' or '..' segment) skips path.normalize too.
// The key is the same as the full computation's for every string (test/store/path-key.test.ts).
export function pathKey(file: string): string {
  if (!PRINTABLE_ASCII.test(file)) return path.normalize(file).normalize('NFKC').toUpperCase().toLowerCase().normalize('NFKC');
  return (NORMAL_AS_IS && file !== '' && !NOT_NORMAL.test(file) ? file : path.normalize(file)).toLowerCase();
}

// A reference to an archived attachment from another message (a forward, an embed): keyed by both ids, so
// the attachment's first record is never replaced, and one message references one attachment once.
export function referenceKey(attachmentId: string, messageId: string): string {
  return `${attachmentId}!${messageId}`;
}

// Key range of one channel in the failed queue ('"' is the character after the '!' separator).
function channelRange(channelId: string | undefined): { gte?: string; lt?: string } {
  return channelId === undefined ? {} : { gte: `${channelId}!`, lt: `${channelId}"` };
}

// The state store: every method is safe to call concurrently (writes that read first are serialised).
export class Store {
  readonly #db: StoreDb;
  readonly #channel: Sub<ChannelRecord>;
  // Write-through copy of the channel records this process read or wrote: the state directory is locked to
  // one process, so the copy cannot go stale, and counters are updated without a read per saved file.
  readonly #channels = new Map<string, ChannelRecord>();
  readonly #attachment: Sub<AttachmentRecord>;
  readonly #hash: Sub<HashEntry>;
  readonly #path: Sub<string>;
  // The path keys of #path that end in `.json`, as an index (key -> '') and in memory once read (claimOf):
  // every name a sidecar (`<file>.json`) asks about is looked up here first, and most archives have none.
  readonly #jsonPath: Sub<string>;
  readonly #jsonKeys = new Set<string>();
  #jsonLoaded: Promise<void> | undefined;
  readonly #failed: Sub<FailedEntry>;
  readonly #reference: Sub<AttachmentRecord>;
  // --write-metadata=channel (lib/stages/metadata-channel.ts): per channel its messages.ndjson, and per message
  // the files that file lists; with --out s3:// also the log's lines (s3-metadata-channel.ts).
  readonly #metadata: Sub<MetadataLog | string[] | string>;
  // dps follow (lib/discord/gateway.ts): per server, the Gateway session a restart resumes.
  readonly #gateway: Sub<unknown>;
  // dps gallery (lib/gallery): per sha256, its GalleryEntry (dHash, size, kind).
  readonly #gallery: Sub<GalleryEntry>;
  readonly #onClose: (() => void) | undefined;
  readonly #locks = new KeyedLock();
  // Reads answered synchronously when the database can (LevelDB, from its cache, without a round trip through
  // libuv's thread pool); otherwise asynchronously.
  readonly #sync: boolean;
  // Path claims made in this process and not yet written: they are persisted with the saved file's record
  // (recordSaved) and forgotten by releaseClaim, so a file costs no write of its own before its record.
  readonly #claims = new Map<string, string>();
  // Group commit: writes made while the previous batch is being written (or in the same turn of the event loop)
  // go to LevelDB together, in order, as one batch; each caller's promise resolves once its group is written.
  #group: { ops: Ops; written: Promise<void> } | undefined;
  #lastWrite: Promise<void> = Promise.resolve();
  // Attachment records waiting in an unwritten group, so reads see them (read-your-writes).
  readonly #unwritten = new Map<string, AttachmentRecord>();
  // The same for hash entries and references: a second download of the same bytes (or a second reference)
  // must see the first one's entry even while its group is still being written.
  readonly #unwrittenHash = new Map<string, HashEntry>();
  readonly #unwrittenReference = new Map<string, AttachmentRecord>();

  // `onClose` runs once the database is closed (openStore uses it to release its in-process lock).
  constructor(db: StoreDb, onClose?: () => void) {
    this.#db = db;
    this.#onClose = onClose;
    this.#channel = db.sublevel<string, ChannelRecord>('channel', { valueEncoding: 'json' });
    this.#attachment = db.sublevel<string, AttachmentRecord>('attachment', { valueEncoding: 'json' });
    this.#hash = db.sublevel<string, HashEntry>('hash', { valueEncoding: 'json' });
    this.#path = db.sublevel<string, string>('path', { valueEncoding: 'json' });
    this.#jsonPath = db.sublevel<string, string>('pathjson', { valueEncoding: 'json' });
    this.#failed = db.sublevel<string, FailedEntry>('failed', { valueEncoding: 'json' });
    this.#reference = db.sublevel<string, AttachmentRecord>('reference', { valueEncoding: 'json' });
    this.#metadata = db.sublevel<string, MetadataLog | string[] | string>('metadata', { valueEncoding: 'json' });
    this.#gateway = db.sublevel<string, unknown>('gateway', { valueEncoding: 'json' });
    this.#gallery = db.sublevel<string, GalleryEntry>('gallery', { valueEncoding: 'json' }); // dps gallery
    this.#sync = (db.supports as { getSync?: boolean }).getSync === true;
  }

  #get<V>(sublevel: Sub<V>, key: string): V | undefined | Promise<V | undefined> {
    return this.#sync && sublevel.status === 'open' ? sublevel.getSync(key) : sublevel.get(key);
  }

  #getAttachment(attachmentId: string): AttachmentRecord | undefined | Promise<AttachmentRecord | undefined> {
    return this.#unwritten.get(attachmentId) ?? this.#get(this.#attachment, attachmentId);
  }

  // Queue ops for the next group; resolves when they are written. Groups are written one after another.
  #write(ops: Ops): Promise<void> {
    let group = this.#group;
    if (group === undefined) {
      const batch: Ops = [];
      const written = this.#lastWrite
        .then(() => new Promise<void>((resolve) => setImmediate(resolve)))
        .then(async () => {
          this.#group = undefined; // later writes start the next group
          try {
            await this.#db.batch(batch).catch((error: unknown) => {
              throw translateWriteError(error, this.#db);
            });
          } finally {
            for (const op of batch) {
              if (op.type === 'put' && op.sublevel === this.#attachment && this.#unwritten.get(op.key) === op.value) this.#unwritten.delete(op.key);
              if (op.type === 'put' && op.sublevel === this.#hash && this.#unwrittenHash.get(op.key) === op.value) this.#unwrittenHash.delete(op.key);
              if (op.type === 'put' && op.sublevel === this.#reference && this.#unwrittenReference.get(op.key) === op.value)
                this.#unwrittenReference.delete(op.key);
            }
          }
        });
      group = { ops: batch, written };
      this.#group = group;
      this.#lastWrite = written.catch(() => undefined);
    }
    for (const op of ops) {
      group.ops.push(op);
      if (op.type === 'put' && op.sublevel === this.#path && op.key.endsWith('.json')) {
        this.#jsonKeys.add(op.key);
        group.ops.push({ type: 'put', sublevel: this.#jsonPath, key: op.key, value: '' });
      }
      if (op.type === 'put' && op.sublevel === this.#attachment) this.#unwritten.set(op.key, op.value as AttachmentRecord);
      if (op.type === 'put' && op.sublevel === this.#hash) this.#unwrittenHash.set(op.key, op.value as HashEntry);
      if (op.type === 'put' && op.sublevel === this.#reference) this.#unwrittenReference.set(op.key, op.value as AttachmentRecord);
    }
    return group.written;
  }

  // Read-modify-write operations on one key (a channel's record and counters, a path claim) run one at a
  // time, so two callers never both see a path as free or both add to the same old counter; different keys
  // proceed in parallel.
  #serial<T>(key: string, task: () => Promise<T>): Promise<T> {
    return this.#locks.run(key, task);
  }

  // One channel's cursor, names and counters.
  async getChannel(channelId: string): Promise<ChannelRecord | undefined> {
    return this.#channels.get(channelId) ?? this.#get(this.#channel, channelId);
  }

  async #readChannel(channelId: string): Promise<ChannelRecord | undefined> {
    const cached = this.#channels.get(channelId);
    if (cached !== undefined) return cached;
    const stored = await this.#get(this.#channel, channelId);
    if (stored !== undefined) this.#channels.set(channelId, stored);
    return stored;
  }

  // Replace a channel record as given (cursor and counters included); prefer advanceCursor for updates.
  async putChannel(rec: ChannelRecord): Promise<void> {
    const written = await this.#serial(`channel:${rec.channel_id}`, async () => {
      this.#channels.set(rec.channel_id, rec);
      return { done: this.#write([{ type: 'put', sublevel: this.#channel, key: rec.channel_id, value: rec }]) };
    });
    await written.done;
  }

  // The channel records this process has read or written, as they are now (progress.json during a run).
  cachedChannels(): IterableIterator<ChannelRecord> {
    return this.#channels.values();
  }

  // Every known channel and thread (for `dps status`).
  async *channels(signal?: AbortSignal): AsyncIterable<ChannelRecord> {
    for await (const value of this.#channel.values({ signal })) yield value;
  }

  // Move a channel's cursor to messageId if that is further than where it is (never backwards), merging
  // the patch's metadata. `messageId` undefined only merges the patch. Creates the record if needed.
  // `doneAbove`: a span finished walking down (ChannelRecord.done_above); it extends the stored span it
  // overlaps, or replaces it. A span the cursor reaches is folded into the cursor.
  // `walkedWith`: the filter of the walk that moved it; what the record promises below the cursor narrows to
  // what both select (lib/store/walked-with.ts). A re-walk's record of what was announced goes once passed.
  async advanceCursor(
    channelId: string,
    messageId: string | undefined,
    patch: ChannelPatch = {},
    doneAbove?: DoneSpan,
    walkedWith?: WalkFilter,
  ): Promise<ChannelRecord> {
    const { next, done } = await this.#serial(`channel:${channelId}`, async () => {
      const current = (await this.#readChannel(channelId)) ?? emptyChannel(channelId, patch.guild_id ?? '');
      const forward = messageId !== undefined && (current.last_message_id === undefined || compareSnowflakes(messageId, current.last_message_id) > 0);
      const span = foldSpan(forward ? messageId : current.last_message_id, current.done_above, doneAbove);
      const next: ChannelRecord = {
        ...current,
        ...definedOnly(patch),
        channel_id: channelId,
        last_message_id: span.cursor,
        done_above: span.above,
        last_updated: patch.last_updated ?? new Date().toISOString(),
      };
      if (next.done_above === undefined) delete next.done_above;
      if (next.windows !== undefined) {
        const cursor = next.last_message_id;
        const left = cursor === undefined ? next.windows : next.windows.filter((w) => compareSnowflakes(w.to, cursor) > 0);
        if (left.length > 0) next.windows = left;
        else delete next.windows;
      }
      if (walkedWith !== undefined && (forward || doneAbove !== undefined)) next.walked_with = intersect(current.walked_with, walkedWith);
      if (next.rewalk !== undefined && rewalkPassed(next)) delete next.rewalk;
      this.#channels.set(channelId, next);
      return { next, done: this.#write([{ type: 'put', sublevel: this.#channel, key: channelId, value: next }]) };
    });
    await done;
    return next;
  }

  // A windowed run (--after/--before) finished these spans and printed their events (ChannelRecord.windows): kept
  // merged, the newest WINDOW_SPANS of them, until the cursor passes them.
  async recordWindow(channelId: string, spans: DoneSpan[], patch: ChannelPatch = {}): Promise<void> {
    if (spans.length === 0) return;
    const { done } = await this.#serial(`channel:${channelId}`, async () => {
      const current = (await this.#readChannel(channelId)) ?? emptyChannel(channelId, patch.guild_id ?? '');
      const next: ChannelRecord = { ...current, ...definedOnly(patch), channel_id: channelId };
      next.windows = mergeSpans([...(current.windows ?? []), ...spans]).slice(-WINDOW_SPANS);
      this.#channels.set(channelId, next);
      return { done: this.#write([{ type: 'put', sublevel: this.#channel, key: channelId, value: next }]) };
    });
    await done;
  }

  // Start walking a channel's history again from the beginning because this run selects more than the record
  // promises (`filter`): the cursor and span are cleared and the filter recorded, and what earlier runs had
  // announced is kept (ChannelRecord.rewalk) so the re-walk announces nothing twice. A re-walk begun while
  // another is unfinished keeps the first one's record.
  async restartWalk(channelId: string, filter: WalkFilter, since = new Date().toISOString()): Promise<ChannelRecord> {
    const { next, done } = await this.#serial(`channel:${channelId}`, async () => {
      const current = (await this.#readChannel(channelId)) ?? emptyChannel(channelId, '');
      const rewalk = current.rewalk ?? { below: current.last_message_id, above: current.done_above, since };
      if (rewalk.above === undefined) delete rewalk.above;
      const next: ChannelRecord = { ...current, last_message_id: undefined, walked_with: filter, rewalk, last_updated: new Date().toISOString() };
      delete next.done_above;
      this.#channels.set(channelId, next);
      return { next, done: this.#write([{ type: 'put', sublevel: this.#channel, key: channelId, value: next }]) };
    });
    await done;
    return next;
  }

  // A failed item whose message (or channel) is gone: status gone, out of the retry queue, and counted as gone
  // instead of failed. A saved record is never downgraded: returns false.
  async recordGone(rec: AttachmentRecord): Promise<boolean> {
    const written = await this.#serial(`channel:${rec.channel_id}`, async () => {
      const [previous, channel] = await Promise.all([this.#getAttachment(rec.attachment_id), this.#readChannel(rec.channel_id)]);
      if (previous?.status === 'saved') return undefined;
      const gone: AttachmentRecord = { ...rec, ...previous, ...definedOnly(rec), status: 'gone', url: undefined };
      const ops: Ops = [
        { type: 'put', sublevel: this.#attachment, key: rec.attachment_id, value: gone },
        { type: 'del', sublevel: this.#failed, key: failedKey(rec) },
      ];
      if (previous?.status !== 'gone') {
        this.#countIn(ops, rec, channel, (counts) => ({
          failed: previous?.status === 'failed' ? Math.max(0, counts.failed - 1) : counts.failed,
          gone: (counts.gone ?? 0) + 1,
        }));
      }
      return { done: this.#write(ops) };
    });
    if (written === undefined) return false;
    await written.done;
    return true;
  }

  // Resolves once every write asked for so far is in the store (a persisted claim among them): the channel log's
  // name is known to the state before its file exists (lib/stages/metadata-channel.ts).
  async writesDone(): Promise<void> {
    await this.#lastWrite;
  }

  // One attachment's record: saved (with its path) or failed (with its reason).
  async getAttachment(attachmentId: string): Promise<AttachmentRecord | undefined> {
    return this.#getAttachment(attachmentId);
  }

  // Where these bytes were first written, if anywhere (dedupe: link instead of writing twice).
  async getHash(sha256: string): Promise<HashEntry | undefined> {
    return this.#unwrittenHash.get(sha256) ?? this.#get(this.#hash, sha256);
  }

  // This message's reference to an attachment archived from another message, if it was recorded.
  async getReference(attachmentId: string, messageId: string): Promise<AttachmentRecord | undefined> {
    const key = referenceKey(attachmentId, messageId);
    return this.#unwrittenReference.get(key) ?? this.#get(this.#reference, key);
  }

  // Record a reference (recordReference's caller holds the attachment's lock and its path claim): the
  // attachment's own record is untouched; the reference's path claim (unless it is the first copy's path),
  // the retry queue entry of that message's item removed, and the channel counters (saved +1 the first time,
  // failed -1 if it was queued).
  async recordReference(rec: SavedRecord & { duplicate_of: string }): Promise<void> {
    const key = referenceKey(rec.attachment_id, rec.message_id);
    const written = await this.#serial(`channel:${rec.channel_id}`, async () => {
      const [previous, queued, channel] = await Promise.all([
        this.getReference(rec.attachment_id, rec.message_id),
        this.#get(this.#failed, failedKey(rec)),
        this.#readChannel(rec.channel_id),
      ]);
      const ops: Ops = [
        { type: 'put', sublevel: this.#reference, key, value: { ...rec, status: 'saved', reason: undefined } },
        { type: 'del', sublevel: this.#failed, key: failedKey(rec) },
      ];
      if (rec.path !== rec.duplicate_of) ops.push({ type: 'put', sublevel: this.#path, key: pathKey(rec.path), value: key });
      if (previous === undefined || queued !== undefined) {
        this.#countIn(ops, rec, channel, (counts) => ({
          total_images: counts.total_images + (previous === undefined ? 1 : 0),
          failed: queued !== undefined ? Math.max(0, counts.failed - 1) : counts.failed,
        }));
      }
      return { done: this.#write(ops) };
    });
    await written.done;
  }

  // Reserve a final file path for one attachment: true if it was free or is already this attachment's. The
  // claim holds in this process at once. With `persist` (a download's claim, lib/stages/write.ts) it is also
  // queued for the next group commit, before any byte is fetched, so a run killed after the file was renamed
  // into place but before its record was written finds the claim and adopts the file (lib/stages/adopt.ts).
  // Otherwise it is written with the attachment's record (recordSaved's `ownsPath`). Give it back with
  // releaseClaim once the record is written or the download failed, or dropClaim when the name was taken.
  async claimPath(file: string, attachmentId: string, persist = false): Promise<boolean> {
    return (await this.claimPathOf(file, attachmentId, persist)) !== undefined;
  }

  // claimPath, telling a new claim ('claimed') from one this owner already held ('held': in the state, or
  // earlier in this run); undefined when another owner holds the name.
  async claimPathOf(file: string, owner: string, persist = false): Promise<'claimed' | 'held' | undefined> {
    const key = pathKey(file);
    return this.#serial(`path:${key}`, async () => {
      const claimed = this.#claims.get(key) ?? (await this.#get(this.#path, key));
      if (claimed !== undefined) return claimed === owner ? 'held' : undefined;
      this.#claims.set(key, owner);
      // Not awaited (a lost claim only costs today's re-download); a failing write fails the record's too.
      if (persist) this.#write([{ type: 'put', sublevel: this.#path, key, value: owner }]).catch(() => undefined);
      return 'claimed';
    });
  }

  // Who claims `file`: this process's claims first, then the state's (nothing is written). A name ending in
  // `.json` (a sidecar's, asked about for every file written with one) is read only when the index has it.
  async claimOf(file: string): Promise<string | undefined> {
    const key = pathKey(file);
    const claimed = this.#claims.get(key);
    if (claimed !== undefined) return claimed;
    if (key.endsWith('.json')) {
      this.#jsonLoaded ??= this.#loadJsonKeys();
      // An index that could not be read costs this lookup a read of the claims, and the next one a new try.
      const loaded = await this.#jsonLoaded.then(
        () => true,
        () => {
          this.#jsonLoaded = undefined;
          return false;
        },
      );
      if (loaded && !this.#jsonKeys.has(key)) return undefined;
    }
    return this.#get(this.#path, key);
  }

  // The claims of names ending in `.json`, into memory: from their index, or (a state written before it) by
  // one pass over every claim, which then writes the index. Claims written meanwhile are added by #write. A
  // dps older than the index that writes to the state later leaves its own such claims out of it: a sidecar
  // may then take a name such a claim waits for (never over a file: its link does not replace one), and the
  // claim's attachment goes to its next candidate name (README "--write-metadata").
  async #loadJsonKeys(): Promise<void> {
    if ((await this.#get(this.#metadata, JSON_CLAIMS_INDEXED)) !== undefined) {
      for await (const key of this.#jsonPath.keys()) this.#jsonKeys.add(key);
      return;
    }
    const ops: Ops = [];
    for await (const key of this.#path.keys()) {
      if (!key.endsWith('.json')) continue;
      this.#jsonKeys.add(key);
      ops.push({ type: 'put', sublevel: this.#jsonPath, key, value: '' });
    }
    ops.push({ type: 'put', sublevel: this.#metadata, key: JSON_CLAIMS_INDEXED, value: '1' });
    this.#write(ops).catch(() => undefined); // not written: the next run passes over the claims again
  }

  // The claim of `file` that the state holds (written by an earlier run, or this run's written groups).
  async storedClaim(file: string): Promise<string | undefined> {
    return this.#get(this.#path, pathKey(file));
  }

  // Whether the state has a saved file (or reference) in folder `dir` or below it: such a folder found missing
  // was moved or deleted, and is never created afresh (atomic-write.ts makeDirInside). The folder's path keys
  // share a prefix (pathKey keeps '/'); a claim counts only when its owner's record is saved at that very path
  // (every download claims its path before the GET, and a failed one leaves its claim).
  async holdsFilesUnder(dir: string): Promise<boolean> {
    return (await this.savedUnder(dir, 1)).length > 0;
  }

  // The record paths of the first `limit` saved files (or references) in `dir` or below it, in path-key order (the
  // same rule as holdsFilesUnder). Object storage (issue 26): the preflight checks a few are still there.
  async savedUnder(dir: string, limit: number): Promise<string[]> {
    const prefix = `${pathKey(dir).replace(/[\\/]+$/, '')}${path.sep}`;
    const end = `${prefix.slice(0, -1)}${String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1)}`;
    const found: string[] = [];
    for await (const [key, owner] of this.#path.iterator({ gte: prefix, lt: end })) {
      const rec = await (owner.includes('!') ? this.#get(this.#reference, owner) : this.#get(this.#attachment, owner));
      if (rec?.status === 'saved' && rec.path !== undefined && pathKey(rec.path) === key) found.push(rec.path);
      if (found.length >= limit) break;
    }
    return found;
  }

  // Forget this process's claim of `file` by this attachment (its record is written, or it was never saved).
  releaseClaim(file: string, attachmentId: string): void {
    const key = pathKey(file);
    if (this.#claims.get(key) === attachmentId) this.#claims.delete(key);
  }

  // Give up a persisted claim: the name turned out to hold a file the state does not know (the no-replace
  // commit found it taken). Deleted durably before the caller moves on, so the claim never vouches for
  // someone else's file (rare: only a collision with a foreign file costs this write).
  async dropClaim(file: string, attachmentId: string): Promise<void> {
    const key = pathKey(file);
    const written = await this.#serial(`path:${key}`, async () => {
      const held = this.#claims.get(key) === attachmentId;
      if (held) this.#claims.delete(key);
      if (!held && (await this.#get(this.#path, key)) !== attachmentId) return undefined;
      return { done: this.#write([{ type: 'del', sublevel: this.#path, key }]) };
    });
    await written?.done;
  }

  // Record a saved file in one batch: the attachment (status saved), the hash index if these bytes are new,
  // the path claim (unless the path belongs to another attachment, e.g. an unlinked duplicate), the retry
  // queue entry removed, and the channel counters (saved +1 unless already saved; failed -1 if it was failed).
  // `known` carries what the caller has just established (under its per-hash lock and its path claim), so
  // those reads are skipped: whether the hash was unknown, and whether rec.path is this attachment's claim.
  async recordSaved(rec: SavedRecord, known: { newHash?: boolean; ownsPath?: boolean } = {}): Promise<void> {
    // The counters are computed and cached under the channel's turn; the write is awaited after it, so
    // records of one channel made together are written together.
    const written = await this.#serial(`channel:${rec.channel_id}`, async () => {
      const key = pathKey(rec.path);
      const [previous, hash, owner, channel] = await Promise.all([
        this.#getAttachment(rec.attachment_id),
        known.newHash === undefined ? this.#get(this.#hash, rec.sha256) : known.newHash ? undefined : ({ path: '', attachment_id: '' } satisfies HashEntry),
        known.ownsPath === undefined ? this.#ownerOf(key, rec.attachment_id) : known.ownsPath ? undefined : '',
        this.#readChannel(rec.channel_id),
      ]);
      const saved: AttachmentRecord = { ...rec, status: 'saved', reason: undefined };
      const ops: Ops = [
        { type: 'put', sublevel: this.#attachment, key: rec.attachment_id, value: saved },
        { type: 'del', sublevel: this.#failed, key: failedKey(rec) },
      ];
      if (hash === undefined) {
        const first: HashEntry = { path: rec.path, attachment_id: rec.attachment_id };
        ops.push({ type: 'put', sublevel: this.#hash, key: rec.sha256, value: first });
      }
      if (owner === undefined) {
        ops.push({ type: 'put', sublevel: this.#path, key, value: rec.attachment_id });
      }
      if (previous?.status !== 'saved') {
        this.#countIn(ops, rec, channel, (counts) => ({
          total_images: counts.total_images + 1,
          failed: previous?.status === 'failed' ? Math.max(0, counts.failed - 1) : counts.failed,
        }));
      }
      return { done: this.#write(ops) };
    });
    await written.done;
  }

  // The stored claim of a path, or undefined when it is unclaimed or claimed (unwritten) by this attachment here.
  async #ownerOf(key: string, attachmentId: string): Promise<string | undefined> {
    const stored = await this.#get(this.#path, key);
    if (stored !== undefined) return stored;
    const claimed = this.#claims.get(key);
    return claimed === undefined || claimed === attachmentId ? undefined : claimed;
  }

  // Record a failed attempt: status failed with the reason, attempts + 1, queued for retry first next run,
  // and the channel's failed counter (+1 the first time). A saved record is never downgraded: returns false.
  async recordFailed(rec: AttachmentRecord): Promise<boolean> {
    const written = await this.#serial(`channel:${rec.channel_id}`, async () => {
      const [previous, channel] = await Promise.all([this.#getAttachment(rec.attachment_id), this.#readChannel(rec.channel_id)]);
      if (previous?.status === 'saved') return undefined;
      const failed: FailedEntry = {
        ...rec,
        status: 'failed',
        attempts: (previous?.attempts ?? 0) + 1,
        url: rec.url ?? previous?.url,
      };
      const ops: Ops = [
        { type: 'put', sublevel: this.#attachment, key: rec.attachment_id, value: failed },
        { type: 'put', sublevel: this.#failed, key: failedKey(rec), value: failed },
      ];
      if (previous?.status !== 'failed') {
        this.#countIn(ops, rec, channel, (counts) => ({ failed: counts.failed + 1 }));
      }
      return { done: this.#write(ops) };
    });
    if (written === undefined) return false;
    await written.done;
    return true;
  }

  // A channel's counters changed in the same batch as the record they count (and in the write-through copy).
  #countIn(
    ops: Ops,
    rec: { channel_id: string; guild_id: string },
    channel: ChannelRecord | undefined,
    change: (counts: ChannelRecord) => Partial<ChannelRecord>,
  ): void {
    const counts = channel ?? emptyChannel(rec.channel_id, rec.guild_id);
    const value: ChannelRecord = { ...counts, ...change(counts) };
    ops.push({ type: 'put', sublevel: this.#channel, key: rec.channel_id, value });
    this.#channels.set(rec.channel_id, value);
  }

  // The retry queue, oldest message first within each channel (a range read when channelId is given).
  async *failedItems(filter: { channelId?: string | undefined } = {}, signal?: AbortSignal): AsyncIterable<FailedEntry> {
    for await (const value of this.#failed.values({ ...channelRange(filter.channelId), signal })) yield value;
  }

  // Every attachment record (for the manifest), optionally for one server or channel. A full scan, by design.
  async *attachments(filter: { guildId?: string | undefined; channelId?: string | undefined } = {}, signal?: AbortSignal): AsyncIterable<AttachmentRecord> {
    for (const sublevel of [this.#attachment, this.#reference]) {
      // Then the references (forwards, embeds of archived attachments): each with duplicate_of, after every first record.
      for await (const value of sublevel.values({ signal })) {
        if (filter.guildId !== undefined && value.guild_id !== filter.guildId) continue;
        if (filter.channelId !== undefined && value.channel_id !== filter.channelId) continue;
        yield value;
      }
    }
  }

  // A channel's messages.ndjson (--write-metadata=channel): where it is and how many bytes of it are known.
  async metadataLog(channelId: string): Promise<MetadataLog | undefined> {
    return (await this.#get(this.#metadata, `log!${channelId}`)) as MetadataLog | undefined;
  }

  // The files (keys) the messages.ndjson of a channel lists for one message, if any.
  async metadataFiles(channelId: string, messageId: string): Promise<string[] | undefined> {
    return (await this.#get(this.#metadata, `msg!${channelId}!${messageId}`)) as string[] | undefined;
  }

  // Lines appended to (or found in) a channel's messages.ndjson: the log's new length and, per message, every
  // file it lists from now on, in one batch.
  async recordMetadataLines(channelId: string, log: MetadataLog, messages: ReadonlyArray<{ message_id: string; files: string[] }>): Promise<void> {
    const ops: Ops = [{ type: 'put', sublevel: this.#metadata, key: `log!${channelId}`, value: log }];
    for (const { message_id, files } of messages) ops.push({ type: 'put', sublevel: this.#metadata, key: `msg!${channelId}!${message_id}`, value: files });
    await this.#write(ops);
  }

  // An object log's next line (--out s3://, lib/stages/s3-metadata-channel.ts): the line as number `log.lines - 1`,
  // the log's record and the files its message lists from now on, in one batch (all or nothing after a kill).
  async appendMetadataLine(
    channelId: string,
    log: MetadataLog & { lines: number },
    line: string,
    message: { message_id: string; files: string[] },
  ): Promise<void> {
    await this.#write([
      { type: 'put', sublevel: this.#metadata, key: metadataLineKey(channelId, log.lines - 1), value: line },
      { type: 'put', sublevel: this.#metadata, key: `log!${channelId}`, value: log },
      { type: 'put', sublevel: this.#metadata, key: `msg!${channelId}!${message.message_id}`, value: message.files },
    ]);
  }

  // An object log's lines [0, end), in order, streamed (a channel of millions of messages is never held).
  async *metadataLines(channelId: string, end: number, signal?: AbortSignal): AsyncIterable<string> {
    const range = { gte: metadataLineKey(channelId, 0), lt: metadataLineKey(channelId, end) };
    for await (const value of this.#metadata.values({ ...range, signal })) yield value as string;
  }

  // A channel log's record alone (an object log: how many of its lines the object holds now).
  async recordMetadataLog(channelId: string, log: MetadataLog): Promise<void> {
    await this.#write([{ type: 'put', sublevel: this.#metadata, key: `log!${channelId}`, value: log }]);
  }

  // --write-metadata (file mode): the sidecars linked without an fsync of their own since `since`, made durable
  // together by one syncfs (lib/run-sidecars.ts); undefined when every sidecar is durable.
  async sidecarWindow(): Promise<SidecarWindow | undefined> {
    return (await this.#get(this.#metadata, SIDECAR_WINDOW)) as SidecarWindow | undefined;
  }

  // Opens, moves or (undefined) closes the window, durably (LevelDB's log fsynced) and after every earlier write:
  // a sidecar is never linked without an fsync unless the state says so on disk first.
  async setSidecarWindow(window: SidecarWindow | undefined): Promise<void> {
    await this.#lastWrite;
    try {
      if (window === undefined) await this.#metadata.del(SIDECAR_WINDOW, { sync: true } as object);
      else await this.#metadata.put(SIDECAR_WINDOW, window, { sync: true } as object);
    } catch (error) {
      throw translateWriteError(error, this.#db);
    }
  }

  // dps follow: the Gateway session saved for server `guildId` (as written; the gateway checks its shape).
  async gatewaySession(guildId: string): Promise<unknown> {
    return this.#get(this.#gateway, guildId);
  }

  // dps follow: save (or with undefined, forget) the Gateway session of server `guildId`, in the next group
  // commit. It holds ids, a sequence number and a URL, never the token.
  async saveGatewaySession(guildId: string, session: object | undefined): Promise<void> {
    await this.#write(
      session === undefined
        ? [{ type: 'del', sublevel: this.#gateway, key: guildId }]
        : [{ type: 'put', sublevel: this.#gateway, key: guildId, value: session }],
    );
  }

  // dps gallery: what an earlier run found decoding the file with this sha256, if any.
  async galleryEntry(sha256: string): Promise<GalleryEntry | undefined> {
    return this.#get(this.#gallery, sha256);
  }

  // dps gallery: remember what decoding these files found (one group commit).
  async saveGalleryEntries(entries: ReadonlyArray<readonly [string, GalleryEntry]>): Promise<void> {
    if (entries.length === 0) return;
    await this.#write(entries.map(([key, value]) => ({ type: 'put' as const, sublevel: this.#gallery, key, value })));
  }

  // Wait for pending writes, then close the database (and release the directory lock).
  async close(): Promise<void> {
    await this.#locks.idle();
    await this.#lastWrite;
    try {
      await this.#db.close();
    } finally {
      this.#onClose?.();
    }
  }
}

// The cursor and the span above it after `added` is merged: a span that overlaps the stored one extends it, any
// other replaces it (it is the newer walk's); a cursor that reaches a span's start continues to its end.
function foldSpan(
  cursor: string | undefined,
  stored: DoneSpan | undefined,
  added: DoneSpan | undefined,
): { cursor: string | undefined; above: DoneSpan | undefined } {
  let folded = reach(cursor, stored);
  if (added !== undefined) {
    const above = folded.above;
    const overlaps = above !== undefined && compareSnowflakes(added.from, above.to) <= 0 && compareSnowflakes(added.to, above.from) >= 0;
    const merged =
      above !== undefined && overlaps
        ? { from: compareSnowflakes(added.from, above.from) < 0 ? added.from : above.from, to: compareSnowflakes(added.to, above.to) > 0 ? added.to : above.to }
        : { from: added.from, to: added.to };
    folded = reach(folded.cursor, merged);
  }
  return folded;
}

// Spans a record keeps of windowed runs (ChannelRecord.windows): older ones cost only announcements repeated.
const WINDOW_SPANS = 32;

// Spans sorted by their start, overlapping ones merged.
function mergeSpans(spans: DoneSpan[]): DoneSpan[] {
  const sorted = [...spans].sort((a, b) => compareSnowflakes(a.from, b.from));
  const merged: DoneSpan[] = [];
  for (const span of sorted) {
    const last = merged[merged.length - 1];
    if (last !== undefined && compareSnowflakes(span.from, last.to) <= 0) {
      if (compareSnowflakes(span.to, last.to) > 0) merged[merged.length - 1] = { from: last.from, to: span.to };
    } else merged.push({ ...span });
  }
  return merged;
}

// A re-walk is over once its cursor is past everything earlier runs had announced.
function rewalkPassed(record: ChannelRecord): boolean {
  const { rewalk, last_message_id: cursor } = record;
  if (rewalk === undefined || cursor === undefined) return false;
  const top =
    rewalk.above !== undefined && (rewalk.below === undefined || compareSnowflakes(rewalk.above.to, rewalk.below) > 0) ? rewalk.above.to : rewalk.below;
  return top === undefined || compareSnowflakes(cursor, top) >= 0;
}

// A cursor at or past a span's start continues to the span's end, and the span is gone.
function reach(cursor: string | undefined, above: DoneSpan | undefined): { cursor: string | undefined; above: DoneSpan | undefined } {
  if (cursor === undefined || above === undefined || compareSnowflakes(cursor, above.from) < 0) return { cursor, above };
  return { cursor: compareSnowflakes(above.to, cursor) > 0 ? above.to : cursor, above: undefined };
}

function emptyChannel(channelId: string, guildId: string): ChannelRecord {
  return {
    guild_id: guildId,
    guild_name: '',
    channel_id: channelId,
    channel_name: '',
    last_message_id: undefined,
    last_updated: new Date().toISOString(),
    total_images: 0,
    failed: 0,
  };
}

// Drop undefined fields so a sparse patch never erases stored values.
type Defined<T> = { [K in keyof T]?: Exclude<T[K], undefined> };
function definedOnly<T extends object>(patch: T): Defined<T> {
  return Object.fromEntries(Object.entries(patch).filter(([, value]) => value !== undefined)) as Defined<T>;
}
