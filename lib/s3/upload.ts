// Object storage (issue 26): one download body streamed into one object, never held whole in memory. The body
// passes through lib-storage's Upload in parts of `partSize` (a body up to one part is one PUT, larger ones a
// multipart upload, at most `queueSize` parts in flight); sha256, md5 and each part's md5 are computed on the
// way. An object exists under its key only when complete: a failed multipart upload is aborted, and `atEnd`,
// called once the last byte is read and before the object is completed, can still refuse it (a duplicate's
// bytes are not stored twice). The stored object is then verified: its size, and its ETag against the md5s.

import { createHash } from 'node:crypto';
import type { Hash } from 'node:crypto';
import { Readable } from 'node:stream';
import { DeleteObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { DownloadError, isDpsError } from '../errors.js';
import { checkKeyLength, s3ErrorCode, transferError } from './errors.js';

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

// Stores the body at `key` unless a object is there already ('taken': never replaced; checked by the server for
// a single PUT, If-None-Match). Throws our errors: the body's own (size_mismatch, atEnd's), or transferError's.
export async function uploadObject(request: UploadRequest): Promise<StoredObject | 'taken'> {
  checkKeyLength(request.bucket, request.key); // over 1,024 bytes: output_unwritable, no request
  const digest = new Digest(request.partSize);
  const upload = new Upload({
    client: request.client,
    params: {
      Bucket: request.bucket,
      Key: request.key,
      Body: Readable.from(hashed(request, digest), { objectMode: false }),
      ...(request.replace === true ? {} : { IfNoneMatch: '*' }),
      ...(request.checksum === true ? { ChecksumAlgorithm: 'SHA256' as const } : {}),
      ...(request.contentType ? { ContentType: request.contentType } : {}),
      ...(request.metadata ? { Metadata: request.metadata } : {}),
    },
    partSize: request.partSize,
    queueSize: request.queueSize,
    leavePartsOnError: false,
  });
  // An abort is thrown from the body (hashed): lib-storage then aborts the multipart upload itself. Its own
  // abort() would race the upload's end and send AbortMultipartUpload with the aborted signal, leaving it behind.
  try {
    await upload.done();
  } catch (error) {
    if (isDpsError(error) || digest.refused !== undefined) throw digest.refused ?? error;
    request.signal?.throwIfAborted();
    if (s3ErrorCode(error).name === 'PreconditionFailed' || s3ErrorCode(error).status === 412) return 'taken';
    throw transferError(error, `s3://${request.bucket}/${request.key}`);
  }
  const stored = { sha256: digest.sha256(), bytes: digest.bytes };
  await verifyObject(request, stored, digest);
  return stored;
}

// The body as it is read: hashed, counted, checked against the declared size, then shown to atEnd.
async function* hashed(request: UploadRequest, digest: Digest): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of request.body) {
      request.signal?.throwIfAborted();
      digest.update(chunk);
      yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    }
    if (request.expectedSize !== undefined && digest.bytes !== request.expectedSize) {
      throw new DownloadError(`size mismatch: received ${digest.bytes} bytes, expected ${request.expectedSize}`, { retryable: true, reason: 'size_mismatch' });
    }
    request.onReceived?.();
    await request.atEnd?.({ sha256: digest.sha256(), bytes: digest.bytes });
  } catch (error) {
    digest.refused = error; // lib-storage may wrap or replace the body's error: the original is thrown
    throw error;
  }
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

// sha256 and md5 of the whole body, and the md5 of each `partSize` window (lib-storage's parts: every part but
// the last is exactly partSize).
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
