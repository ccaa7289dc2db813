// `dps similar`: groups of archived images whose dHashes differ by at most N bits (README "Gallery"). Hashes come
// from the state (dps gallery stores them); files never decoded are decoded now (hash only, no thumbnail).

import { ExitCode, UsageError } from '../errors.js';
import { DEFAULTS } from '../options.js';
import { openStore } from '../store/open.js';
import { decodeMissing } from './decode-missing.js';
import type { GalleryEvent, SimilarFile, SimilarSummaryEvent } from './gallery-events.js';
import { DEFAULT_SIMILAR_DISTANCE, similarGroups } from './groups.js';
import { fileKind, KIND, readChannels } from './records.js';
import { checkSelection, stopped } from './run-gallery.js';

export interface SimilarOptions {
  state?: string | undefined;
  guildId?: string | undefined;
  channelIds?: readonly string[] | undefined;
  // Bits two hashes may differ by (0 to 64) [6].
  distance?: number | string | undefined;
  workers?: number | undefined;
}

// --distance: a whole number of bits from 0 to 64, as typed.
export function parseDistance(value: number | string | undefined): number {
  if (value === undefined) return DEFAULT_SIMILAR_DISTANCE;
  const text = String(value).trim();
  if (!/^\d+$/.test(text) || Number(text) > 64)
    throw new UsageError(`--distance must be a whole number of bits from 0 to 64, got ${JSON.stringify(String(value))}`);
  return Number(text);
}

export async function runSimilar(
  options: SimilarOptions,
  hooks: { emit?: ((event: GalleryEvent) => void | Promise<void>) | undefined; signal?: AbortSignal | undefined } = {},
): Promise<SimilarSummaryEvent> {
  const started = Date.now();
  const distance = parseDistance(options.distance);
  checkSelection(options);
  const emit = async (event: GalleryEvent): Promise<void> => void (await hooks.emit?.(event));
  const store = await openStore(options.state ?? DEFAULTS.state, { signal: hooks.signal, mustExist: true });
  let warnings = 0;
  const files: SimilarFile[] = [];
  const hashes: string[] = [];
  let decodedNow = 0;
  try {
    const channels = await readChannels(store, { guildId: options.guildId, channelIds: options.channelIds }, hooks.signal);
    const images = channels.flatMap((channel) => channel.files.filter((file) => fileKind(file) === KIND.image));
    const { entries, decoded } = await decodeMissing(images, {
      store,
      galleryDir: null,
      workers: options.workers,
      signal: hooks.signal,
      warn: (event) => {
        warnings++;
        return emit(event);
      },
    });
    decodedNow = decoded;
    hooks.signal?.throwIfAborted();
    for (const file of images) {
      const hash = entries.get(file.sha256)?.d;
      if (hash === undefined || hash === null) continue;
      files.push({ attachment_id: file.attachment_id, path: file.path, sha256: file.sha256 });
      hashes.push(hash);
    }
  } catch (error) {
    throw stopped(hooks.signal, error, 'dps similar was interrupted (hashes computed so far are kept)');
  } finally {
    await store.close();
  }
  const groups = similarGroups(hashes, distance);
  for (const group of groups) await emit({ event: 'similar', files: group.members.map((i) => files[i] as SimilarFile), distance: group.distance });
  const summary: SimilarSummaryEvent = {
    event: 'summary',
    command: 'similar',
    files: files.length,
    decoded: decodedNow,
    groups: groups.length,
    distance,
    warnings,
    elapsed_ms: Date.now() - started,
    exit_code: ExitCode.ok,
  };
  await emit(summary);
  return summary;
}
