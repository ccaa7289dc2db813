// Object storage (issue 26): before the run's first Discord request, the bucket is checked (credentials, bucket,
// endpoint: each fails with one line and its exit code), multipart uploads a killed run left under the prefix
// are aborted (never those outside it), and one tiny object is written and deleted (write access). A prefix
// emptied or deleted behind dps's back (none of the first objects the state records there is left) stops the run,
// as a missing folder does with a local --out.

import { createHash, randomBytes } from 'node:crypto';
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { isDpsError, OutputUnsafeError } from '../errors.js';
import { keyOfUrl, listPrefix, objectUrl } from './destination.js';
import type { S3Settings } from './destination.js';
import { isNotFound, preflightError, s3ErrorCode } from './errors.js';
import { signPayloadAs } from './payload-hash.js';

// What the preflight did: the orphaned uploads it aborted, whether the service verifies sha256 checksums and
// signed payload hashes, and whether it refuses a PUT with If-None-Match: * where an object is (then a single PUT needs no HEAD before it).
export interface Preflight {
  aborted: number;
  checksums?: boolean;
  signedPayloads?: boolean; // the service checks x-amz-content-sha256 against the body
  conditionalWrites?: boolean;
}

// The refusals a service that verifies x-amz-checksum-sha256 answers a PUT whose checksum is wrong.
const CHECKSUM_REFUSALS = new Set(['BadDigest', 'InvalidDigest', 'XAmzContentChecksumMismatch', 'InvalidRequest']);

// How many of the objects the state records under the prefix the preflight looks for (HEAD each).
export const KEPT_SAMPLE = 3;

// Throws an S3Error (DPS_S3_AUTH, DPS_S3_ACCESS, DPS_S3_UNREACHABLE) when the bucket cannot be used, and an
// OutputUnsafeError when none of `saved` (the first few objects the state records under the prefix, as
// `s3://bucket/key`: Store.savedUnder) is there. `readOnly` (a dry run): the listing only (no upload aborted,
// nothing written, `saved` not looked for).
export async function preflightS3(client: S3Client, settings: S3Settings, signal?: AbortSignal, readOnly = false, saved: string[] = []): Promise<Preflight> {
  const where = objectUrl(settings.bucket, settings.prefix);
  const step = async <T>(request: () => Promise<T>): Promise<T> => {
    try {
      return await request();
    } catch (error) {
      signal?.throwIfAborted();
      if (isDpsError(error)) throw error; // ours (an emptied prefix) as it is
      throw preflightError(error, where, settings.endpoint);
    }
  };
  const opts = signal === undefined ? {} : { abortSignal: signal };
  const prefix = listPrefix(settings);
  await step(() => client.send(new ListObjectsV2Command({ Bucket: settings.bucket, MaxKeys: 1, ...(prefix ? { Prefix: prefix } : {}) }), opts));
  if (readOnly) return { aborted: 0 }; // a dry run (issue 26): the bucket is only read
  await step(() => prefixKept(client, settings, saved, opts));
  const aborted = await step(() => sweepUploads(client, settings, signal));
  const probe = `${prefix ?? ''}.dps-write-check-${randomBytes(6).toString('hex')}`;
  const checksums = await step(() => verifiesChecksums(client, settings.bucket, probe, opts));
  const signedPayloads = await step(() => verifiesPayloads(client, settings.bucket, probe, opts));
  await step(() => client.send(new PutObjectCommand({ Bucket: settings.bucket, Key: probe, Body: '', ContentLength: 0, IfNoneMatch: '*' }), opts));
  const conditionalWrites = await step(() => refusesSecondPut(client, settings.bucket, probe, opts));
  await step(() => client.send(new DeleteObjectCommand({ Bucket: settings.bucket, Key: probe }), opts));
  return { aborted, checksums, signedPayloads, conditionalWrites };
}

// Whether the service checks a request's signed payload hash (x-amz-content-sha256) against its body, as AWS S3 and
// Ceph RGW do: the probe signed with a deliberately wrong one is refused (XAmzContentSHA256Mismatch) by one that
// does, stored by one that does not (then removed).
async function verifiesPayloads(client: S3Client, bucket: string, probe: string, opts: { abortSignal?: AbortSignal }): Promise<boolean> {
  const put = new PutObjectCommand({ Bucket: bucket, Key: probe, Body: 'dps', ContentLength: 3, IfNoneMatch: '*' });
  signPayloadAs(put, createHash('sha256').update('not the probe').digest('hex'));
  try {
    await client.send(put, opts);
  } catch (error) {
    if (s3ErrorCode(error).name === 'XAmzContentSHA256Mismatch') return true;
    throw error;
  }
  await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: probe }), opts);
  return false;
}

// Whether the service honours If-None-Match: * on PutObject: a second PUT at the probe's key (which exists) must be
// refused (412 PreconditionFailed). One that stores it ignores the condition: every upload then looks first.
async function refusesSecondPut(client: S3Client, bucket: string, probe: string, opts: { abortSignal?: AbortSignal }): Promise<boolean> {
  try {
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: probe, Body: '', ContentLength: 0, IfNoneMatch: '*' }), opts);
    return false;
  } catch (error) {
    const { name, status } = s3ErrorCode(error);
    if (name === 'PreconditionFailed' || status === 412) return true;
    throw error;
  }
}

// An emptied or deleted prefix: the state has objects archived there and none of the first few is left. The
// next run would otherwise skip them all as archived and never store them again (a local --out stops on a
// missing folder the same way: atomic-write.ts, reason output_unsafe). One object gone of several is no stop.
async function prefixKept(client: S3Client, settings: S3Settings, saved: string[], opts: { abortSignal?: AbortSignal }): Promise<void> {
  const keys = saved.map((url) => keyOfUrl(settings.bucket, url)).filter((key): key is string => key !== undefined);
  if (keys.length === 0) return;
  for (const key of keys) {
    try {
      await client.send(new HeadObjectCommand({ Bucket: settings.bucket, Key: key }), opts);
      return; // one is there: the prefix is not emptied
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }
  const where = `${objectUrl(settings.bucket, settings.prefix).replace(/\/$/, '')}/`;
  const gone = objectUrl(settings.bucket, keys[0]!);
  throw new OutputUnsafeError(
    `${where} is emptied or deleted, but the state has files archived there: ${gone}${keys.length > 1 ? ` and ${keys.length - 1} more looked for` : ''} is gone; put the objects back, or start over with a fresh --state or another prefix`,
  );
}

// Aborts every multipart upload whose key is under the prefix (an interrupted run's; the key filter is checked
// again here, so an upload outside the prefix is never touched whatever the server's listing returns).
export async function sweepUploads(client: S3Client, settings: Pick<S3Settings, 'bucket' | 'prefix'>, signal?: AbortSignal): Promise<number> {
  const prefix = listPrefix(settings);
  const opts = signal === undefined ? {} : { abortSignal: signal };
  let aborted = 0;
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  for (;;) {
    signal?.throwIfAborted();
    const page = await client.send(
      new ListMultipartUploadsCommand({
        Bucket: settings.bucket,
        ...(prefix ? { Prefix: prefix } : {}),
        ...(keyMarker !== undefined ? { KeyMarker: keyMarker } : {}),
        ...(uploadIdMarker !== undefined ? { UploadIdMarker: uploadIdMarker } : {}),
      }),
      opts,
    );
    for (const upload of page.Uploads ?? []) {
      if (upload.Key === undefined || upload.UploadId === undefined) continue;
      if (prefix !== undefined && !upload.Key.startsWith(prefix)) continue;
      await client.send(new AbortMultipartUploadCommand({ Bucket: settings.bucket, Key: upload.Key, UploadId: upload.UploadId }), opts);
      aborted++;
    }
    if (!page.IsTruncated) return aborted;
    keyMarker = page.NextKeyMarker;
    uploadIdMarker = page.NextUploadIdMarker;
    if (keyMarker === undefined && uploadIdMarker === undefined) return aborted;
  }
}

// Whether the service verifies x-amz-checksum-sha256: the probe sent with a deliberately wrong one is refused
// by a service that does (BadDigest), stored by one that ignores the header (Ceph RGW 16): then removed.
async function verifiesChecksums(client: S3Client, bucket: string, probe: string, opts: { abortSignal?: AbortSignal }): Promise<boolean> {
  const wrong = createHash('sha256').update('not the probe').digest('base64');
  try {
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: probe, Body: 'dps', ContentLength: 3, ChecksumSHA256: wrong, IfNoneMatch: '*' }), opts);
  } catch (error) {
    if (CHECKSUM_REFUSALS.has(s3ErrorCode(error).name)) return true;
    throw error;
  }
  await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: probe }), opts);
  return false;
}
