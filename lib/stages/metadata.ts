// (--write-metadata, between fetch and checkpoint) What the archive knows of each saved file, written beside it:
// `file` mode, a JSON sidecar `<file>.json` per file this attachment owns (lib/fs/sidecar.ts); `channel` mode,
// one line per message in the channel folder's messages.ndjson (metadata-channel.ts). Results pass through
// unchanged and in order; a message's metadata is on disk before its last result goes on to the checkpoint, so
// the cursor never passes a message whose metadata was not written (a killed run writes it on the next run,
// where the message's files come back as `archived` and announced). Without the flag the stage is not in the
// pipeline at all.
//
// Which files: those saved by this pass (downloaded, adopted, linked) and those an interrupted run saved but never
// announced (`archived` with `announce`). A file already archived and announced before is left alone.

import { dirname } from 'node:path';
import { ensureDirInside } from '../fs/atomic-write.js';
import { readJson, writeSidecar } from '../fs/sidecar.js';
import { hasCode, isDiskFull } from '../errors.js';
import type { ItemResult } from '../types.js';
import { ChannelMetadata } from './metadata-channel.js';
import { fileMetadata, messageMetadata, ownsFile } from './metadata-fields.js';
import type { MetadataOptions, MetadataWriter, SavedFile } from './metadata-fields.js';

export type { MetadataMode, MetadataOptions } from './metadata-fields.js';

// The stage.
export async function* writeMetadata(source: AsyncIterable<ItemResult>, options: MetadataOptions): AsyncGenerator<ItemResult> {
  const writer: MetadataWriter = options.mode === 'file' ? new SidecarWriter(options) : new ChannelMetadata(options);
  let failed = false;
  try {
    for await (const result of source) {
      const file = savedFile(result);
      if (file !== undefined) writer.file(file);
      if (result.kind === 'mark' || ('item' in result && result.item.last_of_message)) await writer.messageDone();
      yield result;
    }
  } catch (error) {
    failed = true;
    throw error;
  } finally {
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
    if (!ownsFile(file)) return;
    const written = this.#write(file);
    written.catch(() => undefined); // awaited by messageDone
    this.#pending.push(written);
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
    const { store, out, folders, signal } = this.#options;
    const target = `${file.path}.json`;
    const owner = `sidecar!${file.item.attachment_id}!${file.item.message_id}`;
    const before = await store.storedClaim(target);
    if (!(await store.claimPath(target, owner, true))) {
      this.#options.log?.(`metadata: ${target} not written: the name belongs to another file of the archive`);
      return;
    }
    let written = false;
    try {
      const folder = await ensureDirInside(out, dirname(target), folders);
      const text = `${JSON.stringify({ ...messageMetadata(file.item), ...fileMetadata(file) }, null, 2)}\n`;
      const mayReplace = async (existing: string): Promise<boolean> => before === owner || isOwnSidecar(await readJson(existing), file);
      written = (await writeSidecar(target, text, { folder, mayReplace, signal })) === 'written';
      if (!written) this.#options.log?.(`metadata: ${target} not written: a file that dps did not write is there`);
    } catch (error) {
      // A full disk or an unsafe folder stops the run as for a file; anything else costs this sidecar only.
      if (signal?.aborted || isDiskFull(error) || hasCode(error, 'DPS_DISK_FULL', 'DPS_OUTPUT_UNSAFE', 'DPS_OUTPUT')) throw error;
      this.#options.log?.(`metadata: ${target} not written: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      // A claim vouches only for a sidecar dps wrote: given up otherwise, so a later run never replaces that file.
      if (written) store.releaseClaim(target, owner);
      else await store.dropClaim(target, owner);
    }
  }
}

// An earlier run's sidecar of this very file (written before its claim reached the state).
function isOwnSidecar(json: unknown, file: SavedFile): boolean {
  const value = json as { attachment_id?: unknown; message_id?: unknown; path?: unknown } | undefined;
  return value?.attachment_id === file.item.attachment_id && value.message_id === file.item.message_id && value.path === file.path;
}
