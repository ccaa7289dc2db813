// (--write-metadata, between fetch and checkpoint) What the archive knows of each saved file, written beside it:
// `file` mode, a JSON sidecar `<file>.json` per file this attachment owns (lib/fs/sidecar.ts); `channel` mode,
// one line per message in the channel folder's messages.ndjson (metadata-channel.ts; an object rewritten from the
// lines kept in the state with --out s3://, s3-metadata-channel.ts). Results pass through
// unchanged and in order; a message's metadata is on disk before its last result goes on to the checkpoint, so
// the cursor never passes a message whose metadata was not written (a killed run writes it on the next run,
// where the message's files come back as `archived` and announced). Without the flag the stage is not in the
// pipeline at all.
//
// Which files: those saved by this pass (downloaded, adopted, linked) and those an interrupted run saved but never
// announced (`archived` with `announce`). A file already archived and announced before is left alone.

import { readJson, writeSidecar } from '../fs/sidecar.js';
import { isOwnSidecar, writtenSince } from './sidecar-repair.js';
import { hasCode, isDiskFull } from '../errors.js';
import type { ItemResult } from '../types.js';
import { ChannelMetadata } from './metadata-channel.js';
import { writeS3Sidecar } from './s3-sidecar.js'; // --out s3:// (issue 26)
import { S3ChannelMetadata } from './s3-metadata-channel.js'; // --out s3:// (issue 26)
import { ownsFile, sidecarOwner, sidecarText } from './metadata-fields.js';
import type { MetadataOptions, MetadataWriter, SavedFile } from './metadata-fields.js';

export type { MetadataMode, MetadataOptions } from './metadata-fields.js';

// Messages whose sidecars may be written at once (file mode): each waits for its fsync, so one at a time would
// hold the pipeline to the disk's sync latency. The channel log appends in order: one message at a time.
const SIDECAR_WINDOW = 64;

// A result held until its message's metadata is on disk (`done` settles), so results still leave in order.
interface Held {
  result: ItemResult;
  done: Promise<void> | undefined; // the message's metadata, on its last result (and on marks)
  settled: boolean;
}

const HEAD: unique symbol = Symbol('head');

// The stage.
export async function* writeMetadata(source: AsyncIterable<ItemResult>, options: MetadataOptions): AsyncGenerator<ItemResult> {
  const { s3 } = options;
  const writer: MetadataWriter =
    options.mode === 'file' ? new SidecarWriter(options) : s3 !== undefined ? new S3ChannelMetadata({ ...options, s3 }) : new ChannelMetadata(options);
  const window = options.mode === 'file' ? SIDECAR_WINDOW : 1;
  const held: Held[] = [];
  const iterator = source[Symbol.asyncIterator]();
  // The source's next result, asked for before it is awaited: observed at once, so an error while the stage waits
  // for a message's metadata is not an unhandled rejection (it is rethrown where it is awaited).
  const pull = (): Promise<IteratorResult<ItemResult>> => {
    const pending = iterator.next();
    pending.catch(() => undefined);
    return pending;
  };
  let next: Promise<IteratorResult<ItemResult>> | undefined = pull();
  let failed = false;
  try {
    while (next !== undefined || held.length > 0) {
      // Pass on, in order, every result whose message's metadata is written; wait for the oldest when the window
      // is full or the source has ended; otherwise take the next result, or the oldest message's end, first.
      const head = held[0];
      if (head !== undefined && (head.settled || held.length >= window || next === undefined)) {
        held.shift();
        await head.done;
        yield head.result;
        continue;
      }
      const step =
        head?.done === undefined
          ? await next!
          : await Promise.race([
              next!,
              head.done.then(
                (): typeof HEAD => HEAD,
                (): typeof HEAD => HEAD,
              ),
            ]);
      if (step === HEAD) continue;
      if (step.done) {
        next = undefined;
        continue;
      }
      next = pull();
      const result = step.value;
      const file = savedFile(result);
      if (file !== undefined) writer.file(file);
      // Nothing held and nothing to wait for (a sidecar the disk thread wrote with its file): passed on at once.
      if (held.length === 0 && writer.idle?.() === true) {
        yield result;
        continue;
      }
      const last = result.kind === 'mark' || ('item' in result && result.item.last_of_message);
      const entry: Held = { result, done: last ? writer.messageDone() : undefined, settled: !last };
      const settle = (): void => {
        entry.settled = true;
      };
      entry.done?.then(settle, settle);
      held.push(entry);
    }
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    await Promise.allSettled(held.map((entry) => entry.done));
    if (next !== undefined) await iterator.return?.();
    // On success, on abort and on error: what was written is flushed; a close error only surfaces on success.
    await writer.close().catch((error: unknown) => {
      if (!failed) throw error;
    });
  }
}

function savedFile(result: ItemResult): SavedFile | undefined {
  if (result.kind === 'saved') return result;
  if (result.kind === 'archived' && result.announce) return result;
  return undefined;
}

// `file` mode: a sidecar per owned file, written while the message's other files go on; all of a message's
// sidecars are on disk before its last result goes on.
class SidecarWriter implements MetadataWriter {
  readonly #options: MetadataOptions;
  #pending: Array<Promise<void>> = [];

  constructor(options: MetadataOptions) {
    this.#options = options;
  }

  file(file: SavedFile): void {
    if (!ownsFile(file) || file.sidecar === true) return; // none, or written with the file (write.ts): durable already
    const written = this.#write(file);
    written.catch(() => undefined); // awaited by messageDone
    this.#pending.push(written);
  }

  idle(): boolean {
    return this.#pending.length === 0;
  }

  async messageDone(): Promise<void> {
    const pending = this.#pending;
    this.#pending = [];
    for (const outcome of await Promise.allSettled(pending)) if (outcome.status === 'rejected') throw outcome.reason;
  }

  async close(): Promise<void> {
    await this.messageDone();
  }

  // The sidecar's name is claimed like a file's (never written where another file of the archive belongs), by
  // this attachment in this message; an existing file there is replaced only when it is this claim's own.
  async #write(file: SavedFile): Promise<void> {
    const { store, out, folders, signal, disk } = this.#options;
    const target = `${file.path}.json`;
    const owner = sidecarOwner(file.item);
    const claim = await store.claimPathOf(target, owner, true);
    if (claim === undefined) {
      this.#options.log?.(`metadata: ${target} not written: the name belongs to another file of the archive`);
      return;
    }
    let written = false;
    try {
      const text = sidecarText(file);
      // Also a sidecar that a crash left broken (not JSON) in a window of sidecars not yet durable (sidecar-repair.ts):
      // its file's record was lost with it, and the file came back adopted.
      const { repairSince } = this.#options;
      const mayReplace = async (existing: string): Promise<boolean> => {
        if (claim === 'held') return true;
        const json = await readJson(existing);
        return isOwnSidecar(json, file) || (json === undefined && repairSince !== undefined && (await writtenSince(existing, repairSince)));
      };
      const { s3 } = this.#options; // issue 26: an object beside the file's, replacing only its own
      written =
        s3 !== undefined
          ? (await writeS3Sidecar(target, text, { s3, signal, mayReplace: (json) => claim === 'held' || isOwnSidecar(json, file) })) === 'written'
          : (await writeSidecar(target, text, { disk, root: out, folders, mayReplace, signal })) === 'written';
      if (!written) this.#options.log?.(`metadata: ${target} not written: a file that dps did not write is there`);
    } catch (error) {
      // A full disk or an unsafe folder stops the run as for a file; anything else costs this sidecar only.
      if (
        signal?.aborted ||
        isDiskFull(error) ||
        hasCode(error, 'DPS_DISK_FULL', 'DPS_OUTPUT_UNSAFE', 'DPS_OUTPUT', 'DPS_S3_AUTH', 'DPS_S3_ACCESS', 'DPS_S3_UNREACHABLE')
      )
        throw error;
      this.#options.log?.(`metadata: ${target} not written: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      // A claim vouches only for a sidecar dps wrote: given up otherwise, so a later run never replaces that file.
      if (written) store.releaseClaim(target, owner);
      else await store.dropClaim(target, owner);
    }
  }
}
