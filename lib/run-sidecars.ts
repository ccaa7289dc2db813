// A run's sidecars (--write-metadata, file mode) made durable together instead of one fsync each. Each sidecar is
// still written to a temp file and linked to its name only once complete, so a process that dies (kill -9) never
// leaves a partial sidecar: the page cache outlives it. Only a machine crash or power loss can lose sidecar
// bytes that were not yet written back, so the state records, durably and before the first such sidecar is
// linked, a window: "sidecars linked since T in --out may not be on disk yet". One syncfs of --out's file system
// closes it when the run ends (and moves it on every minute of a long run). A window found open at the start of
// a run means the last one did not end: if the machine has not restarted since (same boot id), its sidecars are
// in the page cache and one syncfs makes them durable; if it has, every sidecar written in the window is checked
// against the state's record of its file and written again if it is not whole (stages/sidecar-repair.ts). Where
// syncfs is not available (not Linux, no `sync -f`), each sidecar is fsynced before its link, as before.
// Measurements: bench/limits.md, "Sidecars".

import { existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DiskThread } from './fs/disk-thread.js';
import { bootId, syncFileSystem } from './fs/syncfs.js';
import type { DeferredSidecars } from './stages/write.js';
import { repairSidecars } from './stages/sidecar-repair.js';
import type { SidecarWindow, Store } from './store/store.js';

// A window starts this long before the run: records are stamped with the same clock, and a clock set back a
// little during the run must not leave a sidecar outside the window that a repair checks.
const WINDOW_MARGIN_MS = 60 * 60_000;
// A long run's sidecars are made durable at least this often (the window moves on), so a crash costs a repair
// of the last minute's sidecars, not the whole run's.
const SYNC_EVERY_MS = 60_000;

export interface SidecarSyncOptions {
  store: Store;
  disk: DiskThread; // writes the repaired sidecars
  out: string;
  defer: boolean; // this run writes sidecars with its files to a folder (file mode, not s3://, not a dry run)
  log?: ((line: string) => void) | undefined;
  signal?: AbortSignal | undefined;
  now?: (() => number) | undefined; // the run's clock (tests inject one)
  boot?: string | undefined; // this boot's id (tests); bootId() by default
}

export class SidecarSync implements DeferredSidecars {
  readonly #options: SidecarSyncOptions;
  readonly #now: () => number;
  readonly #boot: string | undefined;
  #deferred = false; // the window is open: sidecars go without their own fsync
  #device: string | undefined;
  #lastSync = 0;
  #syncing: Promise<void> | undefined;
  #warned = false;
  // A crashed run's window start, in ms, after its repair: a broken sidecar written since may be replaced (metadata.ts).
  repairSince: number | undefined;

  private constructor(options: SidecarSyncOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#boot = options.boot ?? bootId();
  }

  // Closes (or repairs, then closes) a window an earlier run left open, then opens this run's when it defers and
  // syncfs works on --out. Never throws for a syncfs that fails: sidecars are then fsynced one by one.
  static async start(options: SidecarSyncOptions): Promise<SidecarSync> {
    const sync = new SidecarSync(options);
    const { store, log } = options;
    const left = await store.sidecarWindow();
    if (left !== undefined) {
      if (left.boot === undefined || left.boot !== sync.#boot) {
        log?.(`metadata: the run of ${left.since} did not end and the machine restarted since: checking the sidecars it wrote`);
        const { checked, repaired } = await repairSidecars(left, options);
        log?.(`metadata: ${checked} sidecar(s) checked, ${repaired} written again`);
        sync.repairSince = Date.parse(left.since);
      }
      if (await syncFileSystem(existingAncestor(left.out), options.signal)) await store.setSidecarWindow(undefined);
      else log?.(`warning: cannot make the sidecars in ${left.out} durable (syncfs failed): the next run checks them again`);
    }
    // Before the first file --out may not exist yet: the probe syncs the folder it will be created in.
    if (options.defer && (await syncFileSystem(existingAncestor(options.out), options.signal))) {
      const since = new Date(sync.#now() - WINDOW_MARGIN_MS).toISOString();
      await store.setSidecarWindow({ since, out: options.out, ...(sync.#boot === undefined ? {} : { boot: sync.#boot }) });
      sync.#deferred = true;
      sync.#lastSync = sync.#now();
    }
    return sync;
  }

  // The archive root's device (FolderIdentity's form), once it exists; undefined when sidecars are fsynced each.
  device(): string | undefined {
    if (!this.#deferred) return undefined;
    try {
      this.#device ??= String(statSync(this.#options.out, { bigint: true }).dev);
    } catch {
      return undefined; // not created yet
    }
    return this.#device;
  }

  // One more sidecar linked without its fsync: a syncfs is started when the last one is a minute old (the run
  // does not wait for it; tests may, through the promise).
  linked(): Promise<void> | undefined {
    if (!this.#deferred || this.#syncing !== undefined || this.#now() - this.#lastSync < SYNC_EVERY_MS) return undefined;
    this.#syncing = this.#sync(true).finally(() => {
      this.#syncing = undefined;
    });
    return this.#syncing;
  }

  // One syncfs of --out's file system; then the window moves to start at the syncfs (keep) or is closed.
  async #sync(keep: boolean): Promise<void> {
    const started = this.#now();
    const { store, out } = this.#options;
    try {
      if (!(await syncFileSystem(existingAncestor(out)))) throw new Error('syncfs failed'); // no --out: nothing written
      this.#lastSync = this.#now();
      await store.setSidecarWindow(keep ? { since: new Date(started - WINDOW_MARGIN_MS).toISOString(), out, boot: this.#boot } : undefined);
    } catch (error) {
      if (this.#warned) return;
      this.#warned = true;
      const why = error instanceof Error ? error.message : String(error);
      this.#options.log?.(`warning: cannot make this run's sidecars durable yet (${why}): the next run checks them`);
    }
  }

  // After the run's last file (the disk thread closed): its sidecars made durable, the window closed.
  async close(): Promise<void> {
    if (!this.#deferred) return;
    this.#deferred = false;
    await this.#syncing;
    await this.#sync(false);
  }
}

// `dir`, or the nearest folder above it that exists.
function existingAncestor(dir: string): string {
  let at = dir;
  while (!existsSync(at) && dirname(at) !== at) at = dirname(at);
  return at;
}

export type { SidecarWindow };
