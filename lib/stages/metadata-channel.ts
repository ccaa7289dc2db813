// --write-metadata=channel: one messages.ndjson per channel folder (a thread has its own), one line per message
// that has saved files, appended in the order the checkpoint passes messages, never twice:
// - the state indexes, per channel, the log's path and the length up to which its lines are known, and per
//   message the files its lines list (Store.recordMetadataLines, written after each append);
// - a run killed after an append but before that index reached the state left whole lines past the known
//   length: the pass's first append reads them back and indexes them; a line cut by the kill (no newline yet)
//   is cut off the file;
// - a message's files are written only if no line lists them yet; a message met again (announced after a kill,
//   re-walked, retried) gets a line only for files no line has: marked "added": true, and "retry": true when
//   the retry pass saved them (a file that failed and was saved later).
// The log's name is claimed like a file's (store path claims), so no attachment is ever written to it and it
// never takes the name of a file that is already there (then messages_<channel id>.ndjson, ...).
// One channel may have two writers at once in a run (dps follow: its catch-up and its live messages, each
// through a metadata stage): they take turns (one message's read, append and index at a time) and share what
// they appended that the state does not have yet, and each appends at the file's end as it is then, never at a
// length it knew before the other wrote.

import path from 'node:path';
import { OutputError } from '../errors.js';
import { ensureDirInside } from '../fs/atomic-write.js';
import { LineLog } from '../fs/sidecar-log.js';
import type { MetadataLog, Store } from '../store/store.js';
import type { MediaItem } from '../types.js';
import { KeyedLock } from '../util/keyed-lock.js';
import { itemFolder } from './claim-path.js';
import type { MetadataOptions, MetadataWriter, SavedFile } from './metadata-fields.js';
import { MessageFiles, channelLogLine } from './metadata-fields.js';

export const CHANNEL_LOG_NAME = 'messages.ndjson';

// How many names a log tries (messages.ndjson, then with the channel id, then a counter).
const MAX_NAMES = 20;

// What the writers of one state's channel logs share: turns per channel, and per channel the index writes not
// yet in the state (message id -> files listed).
interface SharedLogs {
  turns: KeyedLock;
  unwritten: Map<string, Map<string, string[]>>;
}
const shared = new WeakMap<Store, SharedLogs>();

function sharedOf(store: Store): SharedLogs {
  let logs = shared.get(store);
  if (logs === undefined) {
    logs = { turns: new KeyedLock(), unwritten: new Map() };
    shared.set(store, logs);
  }
  return logs;
}

export class ChannelMetadata implements MetadataWriter {
  readonly #options: MetadataOptions;
  readonly #files = new MessageFiles();
  #opening: Promise<LineLog> | undefined;
  readonly #shared: SharedLogs;
  // Index writes not yet in the state (read-your-writes; shared with the channel's other writer), and the first
  // error of one.
  readonly #unwritten: Map<string, string[]>;
  #lastWrite: Promise<void> = Promise.resolve();
  #writeError: unknown;

  constructor(options: MetadataOptions) {
    this.#options = options;
    this.#shared = sharedOf(options.store);
    const unwritten = this.#shared.unwritten.get(options.context.channel_id) ?? new Map<string, string[]>();
    this.#shared.unwritten.set(options.context.channel_id, unwritten);
    this.#unwritten = unwritten;
  }

  get #channelId(): string {
    return this.#options.context.channel_id;
  }

  file(file: SavedFile): void {
    this.#files.add(file);
  }

  async messageDone(): Promise<void> {
    const message = this.#files.take();
    if (message === undefined) return;
    if (this.#writeError !== undefined) throw this.#writeError;
    await this.#shared.turns.run(this.#channelId, () => this.#writeLine(message.files, message.first));
  }

  async #writeLine(files: SavedFile[], first: SavedFile): Promise<void> {
    const log = await this.#open(first.item);
    await log.refresh(); // the channel's other writer may have appended since
    const messageId = first.item.message_id;
    const listed = this.#unwritten.get(messageId) ?? (await this.#options.store.metadataFiles(this.#channelId, messageId)) ?? [];
    const line = channelLogLine(files, first, listed, this.#options.retry);
    if (line === undefined) return;
    const length = await log.append(line.text);
    this.#index({ path: log.path, length }, [line.message]);
  }

  async close(): Promise<void> {
    this.#files.take();
    const opening = this.#opening;
    this.#opening = undefined;
    if (opening !== undefined) await (await opening.catch(() => undefined))?.close();
    await this.#lastWrite;
    if (this.#writeError !== undefined) throw this.#writeError;
  }

  // The state learns of lines once they are in the file (not awaited: a kill before it is written is what the
  // next pass's tail read is for).
  #index(log: MetadataLog, messages: Array<{ message_id: string; files: string[] }>): void {
    for (const { message_id, files } of messages) this.#unwritten.set(message_id, files);
    const written = this.#options.store.recordMetadataLines(this.#channelId, log, messages).then(
      () => {
        for (const { message_id, files } of messages) if (this.#unwritten.get(message_id) === files) this.#unwritten.delete(message_id);
      },
      (error: unknown) => {
        this.#writeError ??= error;
      },
    );
    this.#lastWrite = written;
  }

  #open(item: MediaItem): Promise<LineLog> {
    this.#opening ??= this.#openLog(item);
    return this.#opening;
  }

  async #openLog(item: MediaItem): Promise<LineLog> {
    const { store } = this.#options;
    const known = await store.metadataLog(this.#channelId);
    const reopened = known === undefined ? undefined : await LineLog.open(known.path);
    if (reopened !== undefined && known !== undefined) {
      await this.#catchUp(reopened, reopened.length < known.length ? 0 : known.length);
      return reopened;
    }
    // First time for this channel (or its log was deleted: a new one; what the state indexed stays written).
    const log = await this.#create(known?.path ?? itemFolder({ out: this.#options.out, pathPattern: this.#options.pathPattern }, item));
    await store.recordMetadataLines(this.#channelId, { path: log.path, length: 0 }, []);
    if (log.length > 0) await this.#catchUp(log, 0); // a killed run's log the state did not know yet: its lines indexed
    return log;
  }

  // Lines past what the state knows: indexed now; a torn last line cut off.
  async #catchUp(log: LineLog, from: number): Promise<void> {
    const tail = await log.tail(from);
    const end = tail.lastIndexOf(0x0a) + 1; // the bytes after the last newline are a torn line
    if (end < tail.length) await log.truncate(from + end);
    const found = new Map<string, Set<string>>();
    for (const text of tail.subarray(0, end).toString('utf8').split('\n')) {
      const line = parseLine(text);
      if (line === undefined) continue;
      const files =
        found.get(line.message_id) ??
        new Set(this.#unwritten.get(line.message_id) ?? (await this.#options.store.metadataFiles(this.#channelId, line.message_id)));
      for (const id of line.files) files.add(id);
      found.set(line.message_id, files);
    }
    const messages = [...found].map(([message_id, files]) => ({ message_id, files: [...files] }));
    if (messages.length > 0 || end < tail.length) {
      await this.#options.store.recordMetadataLines(this.#channelId, { path: log.path, length: log.length }, messages);
    }
  }

  // A new log in the channel's folder, at a name no other file holds or is claimed for.
  // `at`: the earlier log's path (deleted since: the same name is tried first), or the channel's folder.
  async #create(at: string): Promise<LineLog> {
    const { store, out, folders, context } = this.#options;
    const previous = at.endsWith('.ndjson') ? at : undefined;
    const folder = previous !== undefined ? path.dirname(previous) : at;
    await ensureDirInside(out, folder, folders);
    const owner = `metadata!${context.channel_id}`;
    const names = [CHANNEL_LOG_NAME, `messages_${context.channel_id}.ndjson`];
    for (let n = 2; names.length < MAX_NAMES; n++) names.push(`messages_${context.channel_id}_${n}.ndjson`);
    if (previous !== undefined) names.unshift(path.basename(previous));
    for (const name of names) {
      const file = path.join(folder, name);
      // A run killed after creating the log but before the state learnt of it left the claim: the log is ours.
      const ours = (await store.storedClaim(file)) === owner;
      if (!(await store.claimPath(file, owner, true))) continue;
      await store.writesDone(); // the claim is in the state before the file exists
      const log = (await LineLog.create(file)) ?? (ours ? await LineLog.open(file) : undefined);
      if (log !== undefined) return log;
      await store.dropClaim(file, owner); // a file the archive does not know: never replaced
    }
    throw new OutputError(`cannot write ${CHANNEL_LOG_NAME} in ${folder}: every name tried holds another file`);
  }
}

// A complete line's message id and file ids (undefined: not a line of ours).
function parseLine(text: string): { message_id: string; files: string[] } | undefined {
  if (text.trim() === '') return undefined;
  try {
    const value = JSON.parse(text) as { message_id?: unknown; files?: unknown };
    if (typeof value.message_id !== 'string' || !Array.isArray(value.files)) return undefined;
    const files = value.files.map((f: { attachment_id?: unknown }) => f?.attachment_id).filter((id): id is string => typeof id === 'string');
    return { message_id: value.message_id, files };
  } catch {
    return undefined;
  }
}
