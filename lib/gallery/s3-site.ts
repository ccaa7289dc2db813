// `dps gallery` (and `dps scrape --gallery`) with `--out s3://bucket/prefix` (issue 26): the site is built in a
// local staging folder beside the state, exactly as for a folder, then uploaded under `prefix/gallery/`. The
// staging folder mirrors the bucket (`<staging>/<key>`), so the site's links to the archived objects are the
// same relative links as on disk (`../Server_id/...`): the bucket copied to a disk, or served as a static
// website, opens. Only images without a thumbnail are read from the bucket (each streamed to a temp file,
// decoded, removed), so a second run reads no object; only the site's files whose bytes changed since the last
// upload are uploaded again (their sha256s are kept in the staging folder), and the objects the site uploaded
// that it no longer has (a channel the state no longer holds: stale.ts) are deleted, never any other.

import { createWriteStream } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { UsageError } from '../errors.js';
import { DEFAULTS } from '../options.js';
import { createS3Client } from '../s3/client.js';
import { keyOfUrl, listPrefix, objectUrl, parseS3Url } from '../s3/destination.js';
import type { S3Settings } from '../s3/destination.js';
import { preflightError, transferError } from '../s3/errors.js';
import { openStore } from '../store/open.js';
import { linkController } from '../util/link-signals.js';
import { decodeMissing, thumbPath } from './decode-missing.js';
import { fileKind, KIND, readChannels } from './records.js';
import type { GalleryEvent, GallerySummaryEvent } from './gallery-events.js';
import type { GalleryHooks, GalleryOptions } from './run-gallery.js';
import { runGallery } from './run-gallery.js';
import { uploadSite } from './s3-site-sync.js';

// Images fetched from the bucket and decoded per batch (at most this many originals on the local disk at once).
const FETCH_BATCH = 32;

// The staging folder of a bucket's gallery: `<state>.s3-gallery/<bucket>` (the keys below it).
export function stagingRoot(state: string, bucket: string): string {
  return path.join(`${path.resolve(state)}.s3-gallery`, bucket);
}

// The S3 settings `dps gallery` needs (it reads and writes objects; no upload tuning).
function settingsOf(options: GalleryOptions, out: string): Pick<S3Settings, 'bucket' | 'prefix' | 'endpoint' | 'region' | 'forcePathStyle'> {
  if (options.galleryDir !== undefined)
    throw new UsageError(
      `--gallery-dir ${options.galleryDir}: with --out ${out} the gallery is uploaded beside the archive (under gallery/), it cannot go to a local folder`,
    );
  const endpoint = options.s3Endpoint;
  if (endpoint !== undefined && !/^https?:\/\/[^/\s]+/i.test(endpoint)) throw new UsageError(`--s3-endpoint must be an http(s) URL, got "${endpoint}"`);
  const { bucket, prefix } = parseS3Url(out);
  return { bucket, prefix, endpoint, region: options.s3Region ?? 'us-east-1', forcePathStyle: options.s3ForcePathStyle ?? false };
}

// The gallery of an archive in object storage: built in the staging folder, uploaded under `prefix/gallery/`.
// Its summary's `gallery` is `s3://bucket/prefix/gallery/index.html` and `uploaded` counts the files sent.
export async function runS3Gallery(options: GalleryOptions, hooks: GalleryHooks = {}): Promise<GallerySummaryEvent> {
  const out = options.out ?? '';
  const settings = settingsOf(options, out);
  const state = options.state ?? DEFAULTS.state;
  const root = stagingRoot(state, settings.bucket);
  const siteKey = settings.prefix === '' ? 'gallery' : `${settings.prefix}/gallery`;
  const galleryDir = path.join(root, ...siteKey.split('/'));
  const client = createS3Client(settings);
  const signal = hooks.signal;
  const emit = async (event: GalleryEvent): Promise<void> => void (await hooks.emit?.(event));
  try {
    await checkBucket(client, settings, signal);
    // Every archived object's place in the staging folder, so links from the site are relative ones.
    const localPath = (recordPath: string): string => {
      const key = keyOfUrl(settings.bucket, recordPath);
      return key === undefined ? recordPath : path.join(root, ...key.split('/'));
    };
    const early = await thumbnailsFromBucket(client, settings.bucket, { ...options, galleryDir, localPath }, state, root, hooks);
    let summary: GallerySummaryEvent | undefined;
    await runGallery(
      { ...options, out: root, galleryDir, localPath },
      {
        signal,
        emit: async (event) => {
          if (event.event !== 'summary') return emit(event);
          summary = event as GallerySummaryEvent;
        },
      },
    );
    const done = summary as GallerySummaryEvent;
    const { uploaded, deleted } = await uploadSite(client, settings.bucket, galleryDir, siteKey, signal);
    const final: GallerySummaryEvent = {
      ...done,
      thumbnails_made: done.thumbnails_made + early.made,
      thumbnails_kept: Math.max(0, done.thumbnails_kept - early.made),
      warnings: done.warnings + early.warnings,
      gallery: objectUrl(settings.bucket, `${siteKey}/index.html`),
      uploaded,
      deleted,
    };
    await emit(final);
    return final;
  } finally {
    client.destroy();
  }
}

// The bucket is readable (credentials, bucket, endpoint: each its own exit code) before any work.
async function checkBucket(client: S3Client, settings: Pick<S3Settings, 'bucket' | 'prefix' | 'endpoint'>, signal?: AbortSignal): Promise<void> {
  const prefix = listPrefix(settings);
  try {
    await client.send(
      new ListObjectsV2Command({ Bucket: settings.bucket, MaxKeys: 1, ...(prefix ? { Prefix: prefix } : {}) }),
      signal ? { abortSignal: signal } : {},
    );
  } catch (error) {
    signal?.throwIfAborted();
    throw preflightError(error, objectUrl(settings.bucket, settings.prefix), settings.endpoint);
  }
}

// Decodes the images no earlier run has decoded (or whose thumbnail the staging folder lacks), a batch at a
// time: each fetched from its object to a temp file, decoded into the staging gallery, removed. The state keeps
// each answer (as runGallery's own decoding does), so runGallery then finds nothing left to decode.
async function thumbnailsFromBucket(
  client: S3Client,
  bucket: string,
  options: GalleryOptions & { galleryDir: string; localPath: (p: string) => string },
  state: string,
  root: string,
  hooks: GalleryHooks,
): Promise<{ made: number; warnings: number }> {
  const signal = hooks.signal;
  const fetchDir = path.join(root, '.fetch');
  const store = await openStore(state, { signal, mustExist: true });
  let made = 0;
  let warnings = 0;
  try {
    const channels = await readChannels(store, { guildId: options.guildId, channelIds: options.channelIds }, signal);
    const seen = new Set<string>();
    const missing: Array<{ sha256: string; key: string }> = [];
    for (const channel of channels) {
      for (const file of channel.files) {
        if (fileKind(file) !== KIND.image || seen.has(file.sha256)) continue;
        seen.add(file.sha256);
        const key = keyOfUrl(bucket, file.path);
        if (key === undefined) continue;
        const known = await store.galleryEntry(file.sha256);
        if (known !== undefined && (known.d === null || (await exists(path.join(options.galleryDir, thumbPath(file.sha256)))))) continue;
        missing.push({ sha256: file.sha256, key });
      }
    }
    if (missing.length === 0) return { made, warnings };
    await rm(fetchDir, { recursive: true, force: true }); // what a killed run left
    await mkdir(fetchDir, { recursive: true });
    for (let i = 0; i < missing.length; i += FETCH_BATCH) {
      signal?.throwIfAborted();
      const batch = missing.slice(i, i + FETCH_BATCH);
      // The batch's GETs listen on a child of the run's signal (each GET and its pipeline add one listener: more
      // than the default 10 would warn on the run's signal), unlinked once they are done.
      const linked = linkController(signal, 2 * FETCH_BATCH + 2);
      const targets = await Promise.all(
        batch.map(async ({ sha256, key }) => {
          const file = path.join(fetchDir, sha256);
          await fetchObject(client, bucket, key, file, linked.signal);
          return { sha256, path: file };
        }),
      ).finally(linked.unlink);
      const result = await decodeMissing(targets, {
        store,
        galleryDir: options.galleryDir,
        workers: options.workers,
        signal,
        warn: async (event) => {
          warnings++;
          // The warning names the object, not the temp file it was read from.
          const found = batch.find((b) => path.join(fetchDir, b.sha256) === event.path);
          await hooks.emit?.(found ? { ...event, path: objectUrl(bucket, found.key) } : event);
        },
      });
      made += result.made;
      await Promise.all(targets.map((target) => rm(target.path, { force: true })));
    }
  } finally {
    await store.close();
    await rm(fetchDir, { recursive: true, force: true });
  }
  return { made, warnings };
}

// One object streamed to a local file.
async function fetchObject(client: S3Client, bucket: string, key: string, file: string, signal?: AbortSignal): Promise<void> {
  try {
    const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }), signal ? { abortSignal: signal } : {});
    await pipeline(got.Body as Readable, createWriteStream(file), signal ? { signal } : {});
  } catch (error) {
    signal?.throwIfAborted();
    throw transferError(error, objectUrl(bucket, key));
  }
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}
