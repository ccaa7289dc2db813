// What a run holds open, opened in one place and closed in one place: the state, the run's stop signal (linked
// to the caller's), the REST client, the download agent, the disk thread, the stall watch and progress.json.
// They are closed once the run's work has settled, whatever happened, in the reverse order of their use.
// A dry run holds the same, read-only: a copy of the state (removed at the end), no progress.json; the agent
// and the disk thread are never used (nothing is downloaded or written).

import type { Agent } from 'undici';
import { DiscordClient } from './discord/client.js';
import { createDownloadAgent } from './discord/download.js';
import { DiskThread } from './fs/disk-thread.js';
import { SidecarSync } from './run-sidecars.js'; // --write-metadata (issue 23)
import type { RateLimitWait } from './discord/long-wait.js';
import { downloadCap } from './options.js';
import type { ArchiveHooks, NormalizedOptions } from './options.js';
import type { ProgressFile } from './output/progress-file.js';
import { startProgressFile } from './run-progress.js';
import { namedLockError } from './output/state-holder.js';
import { openStore, openStoreCopy } from './store/open.js';
import type { StoreCopy } from './store/open.js';
import type { Store } from './store/store.js';
import { linkController } from './util/link-signals.js';
import { StallWatch } from './util/stall-watch.js';
// Object storage (issue 26)
import { createS3Client } from './s3/client.js';
import { PartPool } from './s3/part-pool.js';
import type { S3Target } from './s3/destination.js';

export interface RunResources {
  store: Store;
  // The run's own stop: aborted with the caller's signal, or by the run itself (a --max-wait stop, a fatal error).
  stop: AbortController;
  signal: AbortSignal;
  client: DiscordClient;
  agent: Agent; // one pool of CDN connections for every download
  disk: DiskThread; // hashes, writes, fsyncs and renames the files, off the main thread (started with the first file)
  transfers: StallWatch; // once the run is stopping, cancels transfers that receive nothing
  progressFile?: ProgressFile | undefined; // progress.json beside the state (run-progress.ts); none when disabled
  // The state lost records (run-progress.ts): files already in --out are re-adopted, not downloaded (adopt.ts).
  damaged: boolean;
  // Object storage (issue 26): the run's S3 client and settings with --out s3://...; undefined for a folder.
  s3?: S3Target | undefined;
  // --write-metadata (issue 23): the window of sidecars not yet durable, and an earlier run's repaired (run-sidecars.ts).
  sidecars?: SidecarSync | undefined;
}

// What the resources report to and how they are stopped: the caller's hooks, and when long waits are announced.
export interface ResourceHooks extends Pick<ArchiveHooks, 'signal' | 'hardSignal' | 'log' | 'emit' | 'progressFile' | 'clock'> {
  onLongWait: (wait: RateLimitWait) => void;
  onOpen?: (() => void) | undefined; // the state, client and agent are open; progress.json is opened next
}

// Opens the run's resources, runs `use` with them, and closes them when it settles. An error thrown while they are
// open (opening progress.json included) goes to `onError` before anything is closed: what it returns is the outcome.
export async function withRunResources<T>(
  options: NormalizedOptions,
  hooks: ResourceHooks,
  use: (resources: RunResources) => Promise<T>,
  onError: (error: unknown, resources: RunResources) => T,
): Promise<T> {
  // retry-failed only retries what a state recorded: a mistyped --state is refused, never created (nor --out).
  // A dry run reads a throwaway copy of the state (openStoreCopy): the state itself is never opened nor created.
  // A state held by another run is refused with the name of its command ("in use by a running dps follow").
  const named = async (error: unknown): Promise<never> => {
    throw await namedLockError(error, options.state);
  };
  const copy: StoreCopy | undefined = options.dryRun ? await openStoreCopy(options.state, { mustExist: options.retryOnly }).catch(named) : undefined;
  const store = copy?.store ?? (await openStore(options.state, { mustExist: options.retryOnly }).catch(named));
  // Every pending download, pool waiter and request listens to the run's signal at once, so it may hold many
  // (short-lived) listeners; the caller's signal gets exactly one, removed at the end.
  const { controller: stop, signal, unlink } = linkController(hooks.signal, 10_000);
  const resources: RunResources = {
    store,
    stop,
    signal,
    client: new DiscordClient({ ...options.client, onLongWait: hooks.onLongWait }),
    agent: createDownloadAgent(Math.max(downloadCap(options), 4), options.timeoutMs),
    // Two batches in flight for each concurrent download, plus two (see DiskThread).
    disk: new DiskThread({ slots: 2 * downloadCap(options) + 2 }),
    transfers: new StallWatch({ stop: signal, cancel: hooks.hardSignal, graceMs: options.stallGraceMs }),
    damaged: false,
    s3:
      options.s3 === undefined
        ? undefined
        : { client: createS3Client(options.s3), settings: options.s3, parts: new PartPool(options.s3.partSize, options.s3.partBuffers) }, // issue 26
  };
  try {
    hooks.onOpen?.();
    const progress = await startProgressFile(store, options, hooks, signal, copy?.location);
    resources.progressFile = progress.file;
    resources.damaged = progress.damaged;
    // An earlier run's sidecars closed (or repaired after a crash), this run's window opened. A dry run writes none.
    if (!options.dryRun) {
      const defer = options.writeMetadata === 'file' && options.s3 === undefined;
      const now = hooks.clock === undefined ? undefined : () => hooks.clock!.now();
      resources.sidecars = await SidecarSync.start({ store, disk: resources.disk, out: options.out, defer, log: hooks.log, signal, now });
    }
    return await use(resources);
  } catch (error) {
    return onError(error, resources);
  } finally {
    unlink();
    resources.transfers.close();
    resources.client.close();
    await resources.agent.close().catch(() => undefined);
    await resources.disk.close().catch(() => undefined);
    await resources.sidecars?.close(); // after the last link, before the state closes
    await resources.progressFile?.close();
    resources.s3?.client.destroy(); // issue 26
    await resources.store.close().catch(() => undefined);
    await copy?.remove().catch(() => undefined);
  }
}
