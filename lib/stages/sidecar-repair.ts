// After a machine crash (or power loss) during a run whose sidecars were not yet durable (lib/run-sidecars.ts):
// every sidecar that run may have written is checked, and one that is not whole (empty, zeros, cut short, or
// another file's text) is written again from the state's record of its file, like any sidecar (an fsynced temp
// file renamed over it). A file that is not such a sidecar is never touched: one older than the window, one
// another file of the archive claims (an attachment literally named so), or one that is whole and dps's own.

import fs from 'node:fs/promises';
import type { DiskThread } from '../fs/disk-thread.js';
import { readJson, writeSidecar } from '../fs/sidecar.js';
import type { SidecarWindow, Store } from '../store/store.js';
import type { AttachmentRecord, MediaItem } from '../types.js';
import { sidecarOwner, sidecarText } from './metadata-fields.js';
import type { SavedFile } from './metadata-fields.js';

export interface RepairOptions {
  store: Store;
  disk: DiskThread;
  signal?: AbortSignal | undefined;
  log?: ((line: string) => void) | undefined;
}

// Checks the sidecars of every file recorded in the window (a full scan of the records: this runs only after a
// crash); resolves with how many were checked and how many written again.
export async function repairSidecars(window: SidecarWindow, options: RepairOptions): Promise<{ checked: number; repaired: number }> {
  const { store, disk, signal } = options;
  const since = Date.parse(window.since);
  let checked = 0;
  let repaired = 0;
  for await (const record of store.attachments({}, signal)) {
    if (record.status !== 'saved' || record.path === undefined || record.sha256 === undefined || record.bytes === undefined) continue;
    if (!(Date.parse(record.updated_at) >= since)) continue;
    if (record.duplicate_of !== undefined && record.path === record.duplicate_of) continue; // no sidecar of its own
    const target = `${record.path}.json`;
    if (!(await writtenSince(target, since))) continue; // none there (never asked for), or older than the window
    checked++;
    const file = savedFileOf(record, record.path, record.sha256, record.bytes);
    if (isOwnSidecar(await readJson(target), file)) continue;
    // Read from the claims themselves, not the index of `.json` claims (Store.claimOf): a dps older than the index
    // that wrote to this state would have left its own claims out of it, and this write replaces what is there.
    const holder = await store.storedClaim(target);
    if (holder !== undefined && holder !== sidecarOwner(file.item)) continue; // another file of the archive
    const written = await writeSidecar(target, sidecarText(file), { disk, root: window.out, mayReplace: async () => true, signal }).catch((error: unknown) => {
      options.log?.(`metadata: ${target} could not be written again: ${error instanceof Error ? error.message : String(error)}`);
      return 'taken' as const;
    });
    if (written === 'written') repaired++;
  }
  return { checked, repaired };
}

// Is `file` a regular file that came into being (or was linked) at or after `since`?
export async function writtenSince(file: string, since: number): Promise<boolean> {
  const stat = await fs.lstat(file).catch(() => undefined);
  return stat?.isFile() === true && stat.ctimeMs >= since;
}

// An earlier run's sidecar of this very file (its ids and path): JSON that parses is whole.
export function isOwnSidecar(json: unknown, file: SavedFile): boolean {
  const value = json as { attachment_id?: unknown; message_id?: unknown; path?: unknown } | undefined;
  return value?.attachment_id === file.item.attachment_id && value.message_id === file.item.message_id && value.path === file.path;
}

// The saved file a record describes, as the metadata stage saw it when it wrote the sidecar: the same fields, so
// sidecarText gives the same bytes.
function savedFileOf(record: AttachmentRecord, path: string, sha256: string, bytes: number): SavedFile {
  const thread = record.thread_name !== undefined;
  const item: MediaItem = {
    kind: 'item',
    context: {
      guild_id: record.guild_id,
      guild_name: record.guild_name as string,
      channel_id: record.channel_id,
      // A thread's record names its parent channel_name and itself thread_name (record.ts messageFields).
      channel_name: (thread ? record.thread_name : record.channel_name) as string,
      ...(thread ? { parent_id: '', parent_name: record.channel_name } : {}),
    },
    message_id: record.message_id,
    timestamp: record.timestamp,
    author_id: record.author_id,
    author_name: record.author_name,
    message: {
      edited_timestamp: record.edited_timestamp as string | null,
      author_display_name: record.author_display_name,
      author_bot: record.author_bot as boolean,
      content: record.content as string,
    },
    attachment_id: record.attachment_id,
    filename: record.filename,
    size: record.size,
    content_type: record.content_type,
    url: '',
    source: record.source,
    width: record.width,
    height: record.height,
    description: record.description,
    spoiler: record.spoiler,
    index: 0,
    last_of_message: true,
    unique_name: record.filename,
  };
  return { item, path, sha256, bytes, duplicate_of: record.duplicate_of };
}
