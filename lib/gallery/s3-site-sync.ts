// The staging gallery mirrored into the bucket (issue 26, for s3-site.ts): each site file whose bytes changed
// since its last upload is PUT under `prefix/gallery/`, then the objects the site uploaded and no longer has are
// deleted. What was uploaded (sha256 and ETag per file) is remembered in the staging folder; nothing else under
// the prefix is ever deleted: not a name the site does not write, not an object someone put at a site key since.

import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { DeleteObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { objectUrl } from '../s3/destination.js';
import { transferError } from '../s3/errors.js';
import { PAGE_FILES } from './assets.js';
import { writeAtomic } from './data-files.js';

// The file (in the staging folder) that remembers every site file uploaded.
const UPLOADED = '.uploaded.json';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.webp': 'image/webp',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

// What the site uploaded: per file (relative to the gallery folder), the sha256 of its bytes and the ETag the
// service gave the object (records written before dps kept ETags hold the sha256 alone).
type UploadRecord = Record<string, string>;
const recordEntry = (sha256: string, etag: string | undefined): string => (etag ? `${sha256} ${etag}` : sha256);
const shaOf = (entry: string | undefined): string | undefined => entry?.split(' ', 1)[0];
const etagOf = (entry: string): string | undefined => entry.split(' ')[1];

// Uploads every file of the staging gallery whose sha256 differs from the one last uploaded under its key, then
// deletes the objects the site uploaded earlier and no longer has (a removed channel's data file, thumbnails no
// channel shows); returns how many it sent and deleted. The record of what was sent is saved after each upload
// and each delete (a kill repeats at most one).
export async function uploadSite(
  client: S3Client,
  bucket: string,
  galleryDir: string,
  siteKey: string,
  signal?: AbortSignal,
): Promise<{ uploaded: number; deleted: number }> {
  const recordFile = path.join(galleryDir, UPLOADED);
  const sent = await readRecord(recordFile);
  const files = await siteFiles(galleryDir);
  let uploaded = 0;
  for (const relative of files) {
    signal?.throwIfAborted();
    const file = path.join(galleryDir, ...relative.split('/'));
    const bytes = await readFile(file);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    if (shaOf(sent[relative]) === sha256) continue;
    const key = `${siteKey}/${relative}`;
    let etag: string | undefined;
    try {
      const put = await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: bytes,
          ContentLength: bytes.length,
          ContentType: CONTENT_TYPES[path.extname(relative).toLowerCase()] ?? 'application/octet-stream',
        }),
        signal ? { abortSignal: signal } : {},
      );
      etag = put.ETag;
    } catch (error) {
      signal?.throwIfAborted();
      throw transferError(error, objectUrl(bucket, key));
    }
    sent[relative] = recordEntry(sha256, etag);
    uploaded++;
    await writeAtomic(recordFile, `${JSON.stringify(sent)}\n`);
  }
  const present = new Set(files);
  let deleted = 0;
  for (const [relative, entry] of Object.entries(sent)) {
    if (present.has(relative)) continue;
    signal?.throwIfAborted();
    // Only a name the site writes is ever deleted, under gallery/ (a record edited by hand names nothing else),
    // and only while the object there is still the one the site uploaded (its ETag): one a user put at that key
    // since is left.
    if (isSiteName(relative) && (await stillOurs(client, bucket, `${siteKey}/${relative}`, etagOf(entry), signal))) {
      await deleteObject(client, bucket, `${siteKey}/${relative}`, signal);
      deleted++;
    }
    delete sent[relative];
    await writeAtomic(recordFile, `${JSON.stringify(sent)}\n`);
  }
  return { uploaded, deleted };
}

// A name the site writes (assets.ts's page, data-files.ts's data, decode-missing.ts's thumbnails), relative to
// the gallery folder: nothing else under gallery/, and nothing outside it, is ever deleted.
const SITE_NAME = new RegExp(
  `^(?:${PAGE_FILES.map((name) => name.replace('.', '\\.')).join('|')}|data/index\\.js|data/c-\\d+\\.js|thumbs/[0-9a-f]{2}/[0-9a-f]{64}\\.webp)$`,
);
function isSiteName(relative: string): boolean {
  return SITE_NAME.test(relative);
}

// Whether the object at `key` is still the one the site uploaded with `etag`. Without a recorded ETag (a record
// from before dps kept them) it cannot tell: not deleted. A missing object has nothing to delete.
async function stillOurs(client: S3Client, bucket: string, key: string, etag: string | undefined, signal?: AbortSignal): Promise<boolean> {
  if (etag === undefined) return false;
  try {
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), signal ? { abortSignal: signal } : {});
    return head.ETag === etag;
  } catch (error) {
    signal?.throwIfAborted();
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status === 404) return false;
    throw transferError(error, objectUrl(bucket, key));
  }
}

async function deleteObject(client: S3Client, bucket: string, key: string, signal?: AbortSignal): Promise<void> {
  try {
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }), signal ? { abortSignal: signal } : {});
  } catch (error) {
    signal?.throwIfAborted();
    throw transferError(error, objectUrl(bucket, key));
  }
}

async function readRecord(file: string): Promise<UploadRecord> {
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as unknown;
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return {};
    return Object.fromEntries(Object.entries(parsed).filter((pair): pair is [string, string] => typeof pair[1] === 'string'));
  } catch {
    return {};
  }
}

// The site's files, `/`-separated and relative to the gallery folder: not the temp files, not our record.
async function siteFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'))
    .filter((relative) => relative !== UPLOADED && !relative.endsWith('.tmp') && !relative.split('/').some((part) => part.startsWith('.')))
    .sort();
}
