// Object storage (issue 26): --write-metadata=channel with --out s3://. An object cannot be appended to, so the
// lines live in the state and the object is a copy of them, rewritten whole:
// - a message's line goes into the state (store.appendMetadataLine: the line, numbered in the channel's order, the
//   log's line count and the files its message lists, in one batch) before its last result goes on to the
//   checkpoint; a kill -9 keeps the line and its index together or neither, so a message never gets two lines;
// - the object `<channel folder>/messages.ndjson` is rewritten from the state's lines by one PUT or multipart upload
//   (complete or absent, never a prefix: lib/s3/upload.ts), streamed in parts: at the end of each pass of the
//   channel (on a stop too, as files in flight finish; not after a hard stop), and while a pass goes on (a long
//   history, `dps follow`) once new lines have waited `max(intervalMs, 10 x the last rewrite's duration)`, so
//   rewriting a large log takes at most a tenth of the time. The state records how many lines the object holds: a
//   run after a kill -9 rewrites a stale object at its channel's first pass end, new lines or not;
// - the name is claimed like a file's (store path claims) and taken with If-None-Match: an object dps did not write
//   is never replaced (then messages_<channel id>.ndjson, ...). A pass's writers of one channel (dps follow's
//   catch-up and live messages) share the run's locks: lines are numbered one at a time, rewrites go one at a time.

import path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { Clock } from '../discord/clock.js';
import { systemClock } from '../discord/clock.js';
import { OutputError, hasCode } from '../errors.js';
import { keyOfPath, keyOfUrl, objectUrl, virtualRoot } from '../s3/destination.js';
import type { S3Target } from '../s3/destination.js';
import { s3ErrorCode, transferError } from '../s3/errors.js';
import { uploadObject } from '../s3/upload.js';
import type { MetadataLog } from '../store/store.js';
import type { MediaItem } from '../types.js';
import { KeyedLock } from '../util/keyed-lock.js';
import { itemFolder } from './claim-path.js';
import { CHANNEL_LOG_NAME } from './metadata-channel.js';
import type { MetadataOptions, MetadataWriter, SavedFile } from './metadata-fields.js';
import { MessageFiles, channelLogLine } from './metadata-fields.js';

// The shortest wait between two rewrites of one log during a pass [60 s].
export const LOG_INTERVAL_MS = 60_000;
// A rewrite waits at least this many times the last one's duration (rewrites take at most 1/10 of the time).
const INTERVAL_FACTOR = 10;
// How many names a log tries (messages.ndjson, then with the channel id, then a counter).
const MAX_NAMES = 20;
// Lines are sent to the upload in chunks of about this size (the upload holds at most its parts).
const CHUNK_BYTES = 64 * 1024;

type ObjectLog = MetadataLog & { lines: number; uploaded: number };

export class S3ChannelMetadata implements MetadataWriter {
  readonly #options: MetadataOptions;
  readonly #s3: S3Target;
  readonly #clock: Clock;
  readonly #locks: KeyedLock;
  readonly #files = new MessageFiles();
  #lastEnd: number; // when this writer's last rewrite ended (its start, before any)
  #lastTook = 0; // how long it took
  #dirty = false; // lines appended since the last rewrite began
  #scheduled: { wait: AbortController; done: Promise<void> } | undefined;
  #closing = false;
  #error: unknown; // a rewrite's error that stops the run (quota, credentials, access), thrown at the next call

  constructor(options: MetadataOptions & { s3: S3Target }) {
    this.#options = options;
    this.#s3 = options.s3;
    this.#clock = options.clock ?? systemClock;
    this.#locks = options.locks ?? new KeyedLock();
    this.#lastEnd = this.#clock.now();
  }

  get #channelId(): string {
    return this.#options.context.channel_id;
  }

  file(file: SavedFile): void {
    this.#files.add(file);
  }

  async messageDone(): Promise<void> {
    const taken = this.#files.take();
    if (taken === undefined) return;
    if (this.#error !== undefined) throw this.#error;
    const { files, first } = taken;
    const { store } = this.#options;
    const messageId = first.item.message_id;
    const appended = await this.#locks.run(`metadata-log!${this.#channelId}`, async () => {
      const log = (await this.#known()) ?? (await this.#create(first.item));
      const listed = (await store.metadataFiles(this.#channelId, messageId)) ?? [];
      const line = channelLogLine(files, first, listed, this.#options.retry);
      if (line === undefined) return false;
      await store.appendMetadataLine(this.#channelId, { ...log, lines: log.lines + 1 }, line.text, line.message);
      return true;
    });
    if (!appended) return;
    this.#dirty = true;
    this.#schedule();
  }

  // The pass is over: a scheduled rewrite goes now, and the object gets every line the state holds (also after a
  // stop, with the transfers' signal: a hard stop cancels it; the next pass of the channel rewrites it).
  async close(): Promise<void> {
    this.#files.take();
    this.#closing = true;
    const scheduled = this.#scheduled;
    scheduled?.wait.abort();
    await scheduled?.done;
    if (this.#error !== undefined) throw this.#error;
    const signal = this.#options.signal?.aborted === true ? this.#options.transferSignal : this.#options.signal;
    await this.#rewrite(signal);
  }

  // This channel's object log in the state, if it has one here (a log in a folder, or in another bucket, is not
  // this one: a new object log starts, and the messages the other one lists keep their lines there).
  async #known(): Promise<ObjectLog | undefined> {
    const log = await this.#options.store.metadataLog(this.#channelId);
    if (log === undefined || log.lines === undefined || keyOfUrl(this.#s3.settings.bucket, log.path) === undefined) return undefined;
    return { ...log, lines: log.lines, uploaded: log.uploaded ?? 0 };
  }

  // A rewrite once the interval has passed since this writer's last one (one waits at a time).
  #schedule(): void {
    if (this.#scheduled !== undefined || this.#closing) return;
    const wait = new AbortController();
    const delay = Math.max(0, nextRewriteAt(this.#lastEnd, this.#lastTook, this.#options.logIntervalMs ?? LOG_INTERVAL_MS) - this.#clock.now());
    const done = this.#clock.sleep(delay, wait.signal).then(
      async () => {
        try {
          await this.#rewrite(this.#options.signal);
        } catch (error) {
          if (this.#options.signal?.aborted === true) return; // the pass ends: close() rewrites
          if (hasCode(error, 'DPS_DOWNLOAD')) {
            // Busy, throttled, a dropped connection: the lines are safe in the state; the next interval tries again.
            this.#options.log?.(`metadata: ${this.#channelId}'s messages.ndjson not updated (tried again later): ${(error as Error).message}`);
            this.#dirty = true;
          } else this.#error ??= error;
        } finally {
          this.#scheduled = undefined;
        }
        if (this.#dirty) this.#schedule();
      },
      () => {
        this.#scheduled = undefined; // close() ended the wait
      },
    );
    this.#scheduled = { wait, done };
  }

  // The object rewritten from the state's lines, when it holds fewer than the state (one rewrite of a log at a time).
  async #rewrite(signal: AbortSignal | undefined): Promise<void> {
    const { store } = this.#options;
    const { client, settings } = this.#s3;
    await this.#locks.run(`metadata-upload!${this.#channelId}`, async () => {
      this.#dirty = false;
      const log = await this.#known();
      if (log === undefined || log.uploaded >= log.lines) return;
      const key = keyOfUrl(settings.bucket, log.path)!;
      const started = this.#clock.now();
      await uploadObject({
        client,
        bucket: settings.bucket,
        key,
        body: chunked(store.metadataLines(this.#channelId, log.lines, signal)),
        contentType: 'application/x-ndjson',
        partSize: settings.partSize,
        queueSize: settings.queueSize,
        checksum: settings.checksums,
        signedPayloads: settings.signedPayloads,
        replace: true,
        signal,
      });
      this.#lastEnd = this.#clock.now();
      this.#lastTook = this.#lastEnd - started;
      await this.#locks.run(`metadata-log!${this.#channelId}`, async () => {
        const now = await this.#known();
        if (now?.path === log.path) await store.recordMetadataLog(this.#channelId, { ...now, uploaded: Math.max(now.uploaded, log.lines) });
      });
      this.#options.onLogWritten?.(log.path, log.lines);
    });
  }

  // A new log in the channel's folder, at a name no other object holds or is claimed for; the state knows it (with
  // no lines) before its first line.
  async #create(item: MediaItem): Promise<ObjectLog> {
    const { store, context, pathPattern } = this.#options;
    const { client, settings } = this.#s3;
    const folder = itemFolder({ out: virtualRoot(settings), pathPattern }, item);
    const owner = `metadata!${context.channel_id}`;
    const names = [CHANNEL_LOG_NAME, `messages_${context.channel_id}.ndjson`];
    for (let n = 2; names.length < MAX_NAMES; n++) names.push(`messages_${context.channel_id}_${n}.ndjson`);
    const opts = this.#options.signal ? { abortSignal: this.#options.signal } : {};
    for (const name of names) {
      const key = keyOfPath(path.posix.join(folder, name));
      const url = objectUrl(settings.bucket, key);
      const claim = await store.claimPathOf(url, owner, true);
      if (claim === undefined) continue;
      await store.writesDone(); // the claim is in the state before the object exists
      let ours = claim === 'held'; // a run killed after taking the name, before the state learnt of the log
      try {
        const put = new PutObjectCommand({ Bucket: settings.bucket, Key: key, Body: '', ContentLength: 0, IfNoneMatch: '*' });
        await client.send(put, opts);
        ours = true;
      } catch (error) {
        this.#options.signal?.throwIfAborted();
        const { name: code, status } = s3ErrorCode(error);
        if (code !== 'PreconditionFailed' && status !== 412) throw transferError(error, url);
      }
      if (!ours) {
        await store.dropClaim(url, owner); // an object the archive does not know: never replaced
        continue;
      }
      const log: ObjectLog = { path: url, length: 0, lines: 0, uploaded: 0 };
      await store.recordMetadataLog(context.channel_id, log);
      return log;
    }
    throw new OutputError(`cannot write ${CHANNEL_LOG_NAME} in s3://${settings.bucket}${folder}: every name tried holds another object`);
  }
}

// When the next rewrite of a log may start: `intervalMs` after the last one ended, or ten times as long as it took.
export function nextRewriteAt(lastEnd: number, lastTook: number, intervalMs: number): number {
  return lastEnd + Math.max(intervalMs, INTERVAL_FACTOR * lastTook);
}

// The lines as chunks of about CHUNK_BYTES.
async function* chunked(lines: AsyncIterable<string>): AsyncGenerator<Uint8Array> {
  let pending: string[] = [];
  let size = 0;
  for await (const line of lines) {
    pending.push(line);
    size += line.length;
    if (size >= CHUNK_BYTES) {
      yield Buffer.from(pending.join(''));
      pending = [];
      size = 0;
    }
  }
  if (pending.length > 0) yield Buffer.from(pending.join(''));
}
