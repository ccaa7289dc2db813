// Object storage (issue 26): fetch's steps for an S3 destination (--out s3://bucket/prefix), beside their local
// counterparts: claim (claim-path.ts: the same names, as `s3://bucket/key`), known (reference.ts), adopt
// (adopt.ts), and write + record (write.ts, dedupe.ts). The rules are the local ones: a key has one writer, its
// claim; an object that the state does not know is never replaced (the claim moves on); identical bytes are
// stored once: a duplicate found when its body ends is not completed (its record and `saved` event carry
// `duplicate_of`), or with --s3-copy-duplicates gets a server-side copy at its own key.

import { DownloadError } from '../errors.js';
import { candidateName, itemFolder } from './claim-path.js';
import type { Claim, NamingOptions } from './claim-path.js';
import { postTimeMs } from '../fs/file-times.js';
import { nameVars, renderName, resolveInside } from '../fs/safe-name.js';
import { keyOfPath, keyOfUrl, objectUrl, virtualRoot } from '../s3/destination.js';
import type { S3Target } from '../s3/destination.js';
import { checkKeyLength } from '../s3/errors.js';
import { copyObject, deleteObject, hashObject, objectSize } from '../s3/objects.js';
import type { ObjectRef } from '../s3/objects.js';
import { uploadObject } from '../s3/upload.js';
import { referenceKey } from '../store/store.js';
import type { SavedRecord } from '../store/store.js';
import type { MediaItem, SavedResult, SkippedItem } from '../types.js';
import { archivedRecords } from './archived.js';
import { recordUnderHash } from './dedupe.js';
import type { Placement } from './dedupe.js';
import { recordReference } from './record.js';
import type { WriteOptions } from './write.js';

// fetch's options for an S3 destination.
export interface S3StepOptions extends WriteOptions {
  s3: S3Target;
}

// How many keys an item tries before it gives up (as claim-path.ts).
const MAX_CANDIDATES = 1000;

// The bytes of a finished body are already stored under another key: the upload is not completed.
class DuplicateBytes extends Error {
  constructor(
    readonly earlier: string,
    readonly file: { sha256: string; bytes: number },
  ) {
    super('duplicate');
  }
}

function ref(options: S3StepOptions): ObjectRef {
  return { client: options.s3.client, bucket: options.s3.settings.bucket, signal: options.signal };
}

// The record path of candidate n of an item: `s3://bucket/<prefix>/<the local layout's relative path>`.
export function candidateUrl(item: MediaItem, options: Pick<NamingOptions, 'namePattern' | 'pathPattern'> & { s3: S3Target }, n: number): string {
  const vars = nameVars(item);
  const folder = itemFolder({ out: virtualRoot(options.s3.settings), pathPattern: options.pathPattern }, item, vars);
  const path = resolveInside(folder, candidateName(renderName(options.namePattern, vars), item.attachment_id, n));
  return objectUrl(options.s3.settings.bucket, keyOfPath(path));
}

// claim-path.ts's claimPath for keys: the first candidate from `from` on that `owner` can claim.
export async function claimKey(
  item: MediaItem,
  options: Pick<S3StepOptions, 'store' | 'namePattern' | 'pathPattern' | 's3'>, // also a dry run's (s3-simulate.ts)
  from = 0,
  owner = item.attachment_id,
): Promise<Claim> {
  for (let n = from; n < MAX_CANDIDATES; n++) {
    const url = candidateUrl(item, options, n);
    if (await options.store.claimPath(url, owner, owner === item.attachment_id)) return { path: url, n };
  }
  throw new DownloadError(`no free key for ${item.filename} after ${MAX_CANDIDATES} tries`, { retryable: false });
}

// The claimed key holds an object the state does not know: the claim is dropped durably and moves on.
async function moveKeyClaim(item: MediaItem, claim: Claim, options: S3StepOptions): Promise<void> {
  await options.store.dropClaim(claim.path, item.attachment_id);
  Object.assign(claim, await claimKey(item, options, claim.n + 1));
}

// An object's user metadata: with --mtime (the default), its message's post time as `mtime` (x-amz-meta-mtime),
// seconds since 1970 with a fractional part, rclone's convention; none for a missing or malformed timestamp.
export function objectMetadata(item: MediaItem, options: Pick<S3StepOptions, 'mtime'>): Record<string, string> | undefined {
  const ms = options.mtime === true ? postTimeMs(item.timestamp) : undefined;
  if (ms === undefined) return undefined;
  return { mtime: `${Math.floor(ms / 1000)}.${String(ms % 1000).padStart(3, '0')}` };
}

// A duplicate's own object (a server-side copy) as its own item: its content type and post time.
function ownObject(item: MediaItem, options: S3StepOptions): { contentType?: string | undefined; metadata?: Record<string, string> | undefined } {
  return { contentType: item.content_type, metadata: objectMetadata(item, options) };
}

function keyOf(url: string, options: S3StepOptions): string {
  const key = keyOfUrl(options.s3.settings.bucket, url);
  if (key === undefined) throw new DownloadError(`not in this bucket: ${url}`, { retryable: false });
  checkKeyLength(options.s3.settings.bucket, key); // issue 26: a key over S3's limit fails like a local name too long
  return key;
}

// Whether the recorded copy at `url` is an object of this bucket with the expected size (a local file or an
// object gone or changed is not: the bytes are stored again).
async function intact(url: string, bytes: number, options: S3StepOptions): Promise<boolean> {
  const key = keyOfUrl(options.s3.settings.bucket, url);
  return key !== undefined && (await objectSize(ref(options), key)) === bytes;
}

// reference.ts for S3: an attachment already archived from another message is a reference to its first object
// (or, with --s3-copy-duplicates, a server-side copy at this message's own key); its own message's: skipped.
export async function resolveKnownS3(item: MediaItem, options: S3StepOptions): Promise<SavedResult | SkippedItem | 'download'> {
  const { first, own } = await archivedRecords(options.store, item);
  if (first?.status !== 'saved' || first.path === undefined || first.sha256 === undefined || first.bytes === undefined) return 'download';
  if (own?.status === 'saved') return { kind: 'skipped', item, reason: 'already_archived' };
  if (!(await intact(first.path, first.bytes, options))) return 'download';
  let path = first.path;
  if (options.s3.settings.copyDuplicates) path = await copyToOwnKey(item, first.path, options, referenceKey(item.attachment_id, item.message_id));
  const result: SavedResult = { kind: 'saved', item, path, bytes: first.bytes, sha256: first.sha256, duplicate_of: first.path };
  return recordReference(options.store, result, first as SavedRecord);
}

// A server-side copy of `from` at the first free key of the item (claimed by `owner`): its url.
async function copyToOwnKey(item: MediaItem, from: string, options: S3StepOptions, owner = item.attachment_id): Promise<string> {
  let claim: Claim | undefined;
  try {
    for (;;) {
      const next = await claimKey(item, options, claim === undefined ? 0 : claim.n + 1, owner);
      if (claim !== undefined) options.store.releaseClaim(claim.path, owner);
      claim = next;
      if ((await objectSize(ref(options), keyOf(claim.path, options))) !== undefined) continue; // never replaced
      await copyObject(ref(options), keyOf(from, options), keyOf(claim.path, options), ownObject(item, options));
      return claim.path;
    }
  } finally {
    if (claim !== undefined) options.store.releaseClaim(claim.path, owner);
  }
}

// adopt.ts for S3: an object at a key the state holds this attachment's claim of (a run killed after completing
// the upload, before recording it), of the declared size, is hashed and recorded, not uploaded again.
export async function adoptS3(item: MediaItem, options: S3StepOptions): Promise<SavedResult | undefined> {
  if (item.size === undefined || item.size <= 0) return undefined;
  for (const url of new Set([candidateUrl(item, options, 1), candidateUrl(item, options, 0)])) {
    if ((await options.store.storedClaim(url)) !== item.attachment_id) continue;
    if ((await objectSize(ref(options), keyOf(url, options))) !== item.size) continue;
    if (!(await options.store.claimPath(url, item.attachment_id))) continue;
    try {
      const file = { sha256: await hashObject(ref(options), keyOf(url, options)), bytes: item.size };
      return await recordUnderHash(item, url, file, options, async (earlier) => ({ path: url, duplicateOf: earlier }), true);
    } finally {
      options.store.releaseClaim(url, item.attachment_id);
    }
  }
  return undefined;
}

// write.ts + dedupe.ts for S3: the body streamed into the claimed key (moving the claim past keys that hold an
// object), then recorded under its hash. The caller holds the claim and releases it.
export async function saveToS3(
  item: MediaItem,
  body: AsyncIterable<Uint8Array>,
  claim: Claim,
  options: S3StepOptions,
  expectedSize?: number,
): Promise<SavedResult> {
  if (item.size !== undefined && expectedSize !== undefined && item.size !== expectedSize) {
    throw new DownloadError(`size mismatch: Content-Length said ${expectedSize} bytes, the attachment ${item.size}`, {
      retryable: true,
      reason: 'size_mismatch',
    });
  }
  const { settings, client } = options.s3;
  const size = item.size ?? expectedSize;
  // A key that holds an object is never written: a single PUT is refused there by the service itself (If-None-Match,
  // where the preflight found it honoured) and moves on with the same bytes; a multipart upload looks first.
  const onePut = settings.conditionalWrites === true && size !== undefined && size <= settings.partSize;
  if (!onePut) while ((await objectSize(ref(options), keyOf(claim.path, options))) !== undefined) await moveKeyClaim(item, claim, options);
  const nextKey = async (): Promise<string> => {
    await moveKeyClaim(item, claim, options);
    return keyOf(claim.path, options);
  };
  // At the body's end: bytes an intact earlier object holds are not completed under this key.
  const atEnd = async (file: { sha256: string; bytes: number }): Promise<void> => {
    const first = await options.store.getHash(file.sha256);
    if (first === undefined || first.attachment_id === item.attachment_id || first.path === claim.path) return;
    if (await intact(first.path, file.bytes, options)) throw new DuplicateBytes(first.path, file);
  };
  let stored: { sha256: string; bytes: number } | 'taken';
  let uploaded = true;
  try {
    stored = await uploadObject({
      client,
      bucket: settings.bucket,
      key: keyOf(claim.path, options),
      body,
      expectedSize: size,
      nextKey,
      contentType: item.content_type,
      metadata: objectMetadata(item, options), // issue 26: the post time (x-amz-meta-mtime), with --mtime
      partSize: settings.partSize,
      queueSize: settings.queueSize,
      pool: options.s3.parts, // the run's part buffers: part memory bounded across all uploads
      checksum: settings.checksums, // issue 26: the service verifies each PUT's sha256 (preflight)
      signedPayloads: settings.signedPayloads, // or each PUT's signed payload hash (preflight)
      signal: options.signal,
      onReceived: options.onReceived,
      atEnd,
    });
  } catch (error) {
    if (!(error instanceof DuplicateBytes)) throw error;
    stored = error.file;
    uploaded = false;
  }
  if (stored === 'taken') {
    // Another writer completed an object at the key during the upload: never replaced; downloaded again.
    await moveKeyClaim(item, claim, options);
    throw new DownloadError(`the key ${claim.path} was taken by another object during the upload`, { retryable: true });
  }
  const own = claim.path;
  return recordUnderHash(item, own, stored, options, (earlier) => placeS3(item, own, earlier, stored as { bytes: number }, uploaded, options));
}

// Under the hash's lock, with an earlier record of the same bytes at `earlier`: this object (or, when the upload
// was not completed, the copy to make) against it.
async function placeS3(item: MediaItem, own: string, earlier: string, file: { bytes: number }, uploaded: boolean, options: S3StepOptions): Promise<Placement> {
  if (!(await intact(earlier, file.bytes, options))) {
    if (uploaded) return { path: own, stale: true }; // the first copy is gone: this one is the copy from now on
    throw new DownloadError(`the first copy ${earlier} vanished during the upload`, { retryable: true });
  }
  if (options.s3.settings.copyDuplicates) {
    if (!uploaded) await copyObject(ref(options), keyOf(earlier, options), keyOf(own, options), ownObject(item, options));
    return { path: own, duplicateOf: earlier };
  }
  if (uploaded) await deleteObject(ref(options), keyOf(own, options)); // two uploads of these bytes met: one stays
  return { path: earlier, duplicateOf: earlier };
}
