// Object storage (issue 26): one download body streamed into one object, never held whole in memory. The body
// is copied into part buffers of `partSize` (a body up to one part is one PUT, larger ones a multipart upload,
// multipart.ts, at most `queueSize` parts in flight); sha256, md5 and each part's md5 are computed on the way.
// Part buffers come from the run's part pool (part-pool.ts: a bound on part memory across all uploads, buffers
// reused); a body whose declared size fits in one part is held as its chunks instead, joined for its PUT. An object
// exists under its key only when complete: a failed multipart upload is aborted, and `atEnd`, called once the
// last byte is read and before the object is completed, can still refuse it (a duplicate's bytes are not stored
// twice). The stored object is then verified: its size, and its ETag against the md5s.

import { createHash } from 'node:crypto';
import type { Hash } from 'node:crypto';
import { DeleteObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { DownloadError } from '../errors.js';
import { checkKeyLength, s3ErrorCode, transferError } from './errors.js';
import { Multipart, ServiceError, service } from './multipart.js';
import { PartPool } from './part-pool.js';

export interface UploadRequest {
  client: S3Client;
  bucket: string;
  key: string;
  body: AsyncIterable<Uint8Array>;
  expectedSize?: number | undefined; // the declared size: any other is a size_mismatch (retried)
  contentType?: string | undefined;
  // User metadata stored with the object (x-amz-meta-*): its post time, `mtime` (s3-save.ts objectMetadata).
  metadata?: Record<string, string> | undefined;
  partSize: number;
  queueSize: number;
  // The run's part buffers (shared by its uploads); without one, the upload has its own of queueSize + 1.
  pool?: PartPool | undefined;
  // The service verifies x-amz-checksum-sha256 (preflight): each PUT (object or part) sends its sha256.
  checksum?: boolean | undefined;
  // The caller owns the key and rewrites it (a channel's messages.ndjson): an object there is replaced, not 'taken'.
  replace?: boolean | undefined;
  signal?: AbortSignal | undefined; // cancels the upload at the body's next chunk (a multipart upload is aborted)
  onReceived?: (() => void) | undefined; // the body has been read to its end
  // Called with the bytes' hash once the body is read, before the object is completed: throwing refuses it.
  atEnd?: ((file: { sha256: string; bytes: number }) => Promise<void>) | undefined;
}

// An object stored and verified.
export interface StoredObject {
  sha256: string;
  bytes: number;
}

// Stores the body at `key` unless a object is there already ('taken': never replaced; checked by the server,
// If-None-Match, where it supports it). Throws our errors: the body's own (size_mismatch, atEnd's), or
// transferError's.
export async function uploadObject(request: UploadRequest): Promise<StoredObject | 'taken'> {
  checkKeyLength(request.bucket, request.key); // over 1,024 bytes: output_unwritable, no request
  const digest = new Digest(request.partSize);
  try {
    await storeBody(request, digest);
  } catch (error) {
    if (!(error instanceof ServiceError)) throw error; // the body's, atEnd's
    request.signal?.throwIfAborted();
    if (s3ErrorCode(error.error).name === 'PreconditionFailed' || s3ErrorCode(error.error).status === 412) return 'taken';
    throw transferError(error.error, `s3://${request.bucket}/${request.key}`);
  }
  const stored = { sha256: digest.sha256(), bytes: digest.bytes };
  await verifyObject(request, stored, digest);
  return stored;
}

// The body read into part buffers, each full one sent as a part (the first starts the multipart upload), the
// rest sent as the last part or as the one PUT once the body has ended and atEnd has accepted it.
async function storeBody(request: UploadRequest, digest: Digest): Promise<void> {
  const { signal, expectedSize, partSize } = request;
  if (expectedSize !== undefined && expectedSize <= partSize) return await storeSmall(request, digest);
  const pool = request.pool ?? new PartPool(partSize, request.queueSize + 1);
  let buffer: Buffer | undefined = await pool.acquire(signal);
  let fill = 0;
  let multipart: Multipart | undefined;
  const target = { ...request, pool };
  try {
    for await (const chunk of request.body) {
      received(request, digest, chunk);
      for (let offset = 0; offset < chunk.byteLength; ) {
        if (fill === buffer.length) {
          // A full part and more bytes: it is not the last one.
          multipart ??= await Multipart.create(target);
          const full = buffer;
          buffer = undefined;
          await multipart.send(full, fill);
          buffer = await pool.acquire(signal);
          fill = 0;
        }
        const take = Math.min(buffer.length - fill, chunk.byteLength - offset);
        buffer.set(chunk.subarray(offset, offset + take), fill);
        fill += take;
        offset += take;
      }
    }
    await ended(request, digest);
    const last = buffer;
    buffer = undefined;
    if (multipart === undefined) return await putObject(request, last.subarray(0, fill)).then(() => pool.release(last), discarded(pool));
    await multipart.send(last, fill);
    await multipart.complete();
  } catch (error) {
    await multipart?.abort();
    throw error;
  } finally {
    if (buffer !== undefined) pool.release(buffer); // never sent
  }
}

// A body declared to fit in one part: its chunks held as they come (no buffer of the whole size while it
// downloads, and outside the pool), joined once it has ended and atEnd has accepted it, then one PUT.
async function storeSmall(request: UploadRequest, digest: Digest): Promise<void> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of request.body) {
    received(request, digest, chunk);
    chunks.push(chunk);
  }
  await ended(request, digest);
  await putObject(request, Buffer.concat(chunks, digest.bytes));
}

// A chunk of the body: hashed and counted; past the declared size it is a size_mismatch at once.
function received(request: UploadRequest, digest: Digest, chunk: Uint8Array): void {
  request.signal?.throwIfAborted();
  digest.update(chunk);
  if (request.expectedSize !== undefined && digest.bytes > request.expectedSize) throw sizeMismatch(`more than the ${request.expectedSize} bytes expected`);
}

// The body has ended: of the declared size, then shown to atEnd (which may refuse it).
async function ended(request: UploadRequest, digest: Digest): Promise<void> {
  if (request.expectedSize !== undefined && digest.bytes !== request.expectedSize)
    throw sizeMismatch(`${digest.bytes} bytes, expected ${request.expectedSize}`);
  request.onReceived?.();
  await request.atEnd?.({ sha256: digest.sha256(), bytes: digest.bytes });
}

// A pool buffer whose request failed (its socket may still hold it) is not handed out again.
function discarded(pool: PartPool): (error: unknown) => never {
  return (error) => {
    pool.discard();
    throw error;
  };
}

function sizeMismatch(what: string): DownloadError {
  return new DownloadError(`size mismatch: received ${what}`, { retryable: true, reason: 'size_mismatch' });
}

// The whole body as one PUT, If-None-Match: an object already at the key is not replaced.
async function putObject(request: UploadRequest, body: Buffer): Promise<void> {
  await service(
    request.client.send(
      new PutObjectCommand({
        Bucket: request.bucket,
        Key: request.key,
        Body: body,
        ContentLength: body.length,
        ...(request.replace === true ? {} : { IfNoneMatch: '*' }),
        ...(request.checksum === true ? { ChecksumAlgorithm: 'SHA256' as const } : {}),
        ...(request.contentType ? { ContentType: request.contentType } : {}),
        ...(request.metadata ? { Metadata: request.metadata } : {}),
      }),
    ),
  );
}

// The object as the service holds it: its size, and its ETag where it is the md5 (a single PUT) or the md5 of
// the parts' md5s (a multipart upload). A mismatch removes the object (it is this upload's own) and is retried.
async function verifyObject(request: UploadRequest, stored: StoredObject, digest: Digest): Promise<void> {
  const where = `s3://${request.bucket}/${request.key}`;
  const head = await request.client
    .send(new HeadObjectCommand({ Bucket: request.bucket, Key: request.key }), request.signal ? { abortSignal: request.signal } : {})
    .catch((error: unknown) => {
      throw transferError(error, where);
    });
  const etag = (head.ETag ?? '').replace(/"/g, '');
  const parts = /^[0-9a-f]{32}-(\d+)$/.exec(etag);
  const expected = parts ? digest.multipartEtag() : /^[0-9a-f]{32}$/.test(etag) ? digest.md5() : undefined;
  if (head.ContentLength === stored.bytes && (expected === undefined || expected === etag)) return;
  await request.client.send(new DeleteObjectCommand({ Bucket: request.bucket, Key: request.key })).catch(() => undefined);
  throw new DownloadError(`the stored object ${where} does not match the bytes sent (${head.ContentLength} bytes, ETag ${etag}): removed, retried`, {
    retryable: true,
    reason: 'size_mismatch',
  });
}

// sha256 and md5 of the whole body, and the md5 of each `partSize` window (the parts: every part but the last
// is exactly partSize).
class Digest {
  bytes = 0;
  refused: unknown;
  readonly #sha256 = createHash('sha256');
  readonly #md5 = createHash('md5');
  readonly #parts: Buffer[] = [];
  #part: Hash | undefined;
  #fill = 0;
  #sha: string | undefined;
  constructor(readonly partSize: number) {}

  update(chunk: Uint8Array): void {
    this.#sha256.update(chunk);
    this.#md5.update(chunk);
    this.bytes += chunk.byteLength;
    let offset = 0;
    while (offset < chunk.byteLength) {
      if (this.#part === undefined || this.#fill === this.partSize) {
        if (this.#part !== undefined) this.#parts.push(this.#part.digest());
        this.#part = createHash('md5');
        this.#fill = 0;
      }
      const take = Math.min(this.partSize - this.#fill, chunk.byteLength - offset);
      this.#part.update(chunk.subarray(offset, offset + take));
      this.#fill += take;
      offset += take;
    }
  }

  sha256(): string {
    this.#sha ??= this.#sha256.digest('hex');
    return this.#sha;
  }

  md5(): string {
    return this.#md5.copy().digest('hex');
  }

  multipartEtag(): string {
    const parts = [...this.#parts, ...(this.#part ? [this.#part.copy().digest()] : [])];
    return `${createHash('md5').update(Buffer.concat(parts)).digest('hex')}-${parts.length}`;
  }
}
