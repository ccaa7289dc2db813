// The files no earlier run has decoded (or whose thumbnail is missing from this gallery), decoded through the
// pool; each answer is saved in the state (so no later run decodes it again) and an undecodable file becomes a
// placeholder with a `warning`.

import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { GalleryEntry, Store } from '../store/store.js';
import type { GalleryWarningEvent } from './gallery-events.js';

// Content-addressed: one thumbnail per distinct sha256, under thumbs/<first two hex digits>/.
export function thumbPath(sha256: string): string {
  return `thumbs/${sha256.slice(0, 2)}/${sha256}.webp`;
}

// A file to decode: its bytes' hash and a path that holds them.
export interface DecodeTarget {
  sha256: string;
  path: string;
}

export interface DecodeOptions {
  store: Store;
  galleryDir: string | null; // null: hashes only (dps similar), no thumbnails
  workers?: number | undefined;
  signal?: AbortSignal | undefined;
  warn: (event: GalleryWarningEvent) => void | Promise<void>;
}

// Entries saved per batch while the pool runs (a kill loses at most this many decodes).
const SAVE_EVERY = 64;

// Every target's entry (known or new) by sha256, and how many were decoded now and how many thumbnails were made.
export async function decodeMissing(
  targets: Iterable<DecodeTarget>,
  options: DecodeOptions,
): Promise<{ entries: Map<string, GalleryEntry>; decoded: number; made: number }> {
  const entries = new Map<string, GalleryEntry>();
  const todo: DecodeTarget[] = [];
  const tempDir = options.galleryDir === null ? '' : path.join(options.galleryDir, 'thumbs', '.tmp');
  const thumbs = options.galleryDir === null ? undefined : thumbsIn(options.galleryDir);
  for (const target of targets) {
    if (entries.has(target.sha256)) continue;
    const known = await options.store.galleryEntry(target.sha256);
    if (known !== undefined) {
      entries.set(target.sha256, known);
      const needsThumb = thumbs !== undefined && known.d !== null && !(await thumbs(target.sha256));
      if (!needsThumb) continue;
    }
    todo.push(target);
    entries.set(target.sha256, known ?? { d: null, w: 0, h: 0, k: 0 });
  }
  if (todo.length === 0) return { entries, decoded: 0, made: 0 };
  if (options.galleryDir !== null) {
    await rm(tempDir, { recursive: true, force: true }); // what a killed run left
    await mkdir(tempDir, { recursive: true });
  }
  // sharp (libvips) is loaded only when there is something to decode: a run with nothing new never loads it.
  const { runThumbPool } = await import('./thumb-pool.js');
  const galleryDir = options.galleryDir;
  const tasks = todo.map((target) => ({ file: target.path, thumb: galleryDir === null ? null : path.join(galleryDir, thumbPath(target.sha256)), tempDir }));
  let pending: Array<readonly [string, GalleryEntry]> = [];
  let decoded = 0;
  let made = 0;
  await runThumbPool(
    tasks,
    async (index, result) => {
      const target = todo[index] as DecodeTarget;
      let entry: GalleryEntry;
      if ('decoded' in result) {
        entry = result.decoded;
        if (galleryDir !== null) made++;
      } else {
        entry = { d: null, w: 0, h: 0, k: 0, bad: result.error };
        await options.warn({
          event: 'warning',
          code: 'thumbnail_failed',
          detail: `cannot decode ${target.path}: ${result.error} (shown as a placeholder)`,
          path: target.path,
          sha256: target.sha256,
        });
      }
      decoded++;
      entries.set(target.sha256, entry);
      pending.push([target.sha256, entry]);
      if (pending.length >= SAVE_EVERY) {
        const batch = pending;
        pending = [];
        await options.store.saveGalleryEntries(batch);
      }
    },
    { workers: options.workers, signal: options.signal },
  );
  await options.store.saveGalleryEntries(pending);
  if (galleryDir !== null && (await readdir(tempDir)).length === 0) await rm(tempDir, { recursive: true, force: true });
  return { entries, decoded, made };
}

// Whether the gallery folder holds a sha256's thumbnail: each thumbs/<xx>/ folder is listed once (a second run
// checks every file the gallery shows; one listing per folder instead of one stat per file).
function thumbsIn(galleryDir: string): (sha256: string) => Promise<boolean> {
  const listings = new Map<string, Promise<Set<string>>>();
  return async (sha256) => {
    const file = thumbPath(sha256);
    const folder = path.posix.dirname(file);
    let listing = listings.get(folder);
    if (listing === undefined) {
      listing = readdir(path.join(galleryDir, folder)).then(
        (names) => new Set(names),
        () => new Set<string>(),
      );
      listings.set(folder, listing);
    }
    return (await listing).has(path.posix.basename(file));
  };
}
