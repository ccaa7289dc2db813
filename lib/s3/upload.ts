// Object storage (issue 26): one download body streamed into one object, never held whole in memory. The body
// is copied into part buffers of `partSize` (a body up to one part is one PUT, larger ones a multipart upload,
// multipart.ts, at most `queueSize` parts in flight); its sha256 is computed on the way, and per part its sha256
// (where the service checks signed payload hashes) or md5 (for the ETag check). Part buffers come from the run's
// part pool (part-pool.ts: a bound on part memory across all uploads, buffers reused); a body whose declared size
// fits in one part is held as its chunks instead, joined for its PUT. An object exists under its key only when
// complete: a failed multipart upload is aborted, and `atEnd`, called once the last byte is read and before the
// object is completed, can still refuse it (a duplicate's bytes are not stored twice). A single PUT is signed with
// the body's sha256 (x-amz-content-sha256), each part with its own where the service checks them (else unsigned):
// the SDK hashes nothing again. Where the service checked every byte (signed payloads, or x-amz-checksum-sha256)
// nothing is left to verify; elsewhere the object is verified by what the PUT or the completion answered, its
// ETag against the md5s, and a HEAD only where that answer cannot tell (no ETag, or an encrypted object's).

import { createHash } from 'node:crypto';
import type { Hash } from 'node:crypto';
import { DeleteObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { DownloadError } from '../errors.js';
import { checkKeyLength, s3ErrorCode, transferError } from './errors.js';
import { Multipart, ServiceError, service } from './multipart.js';
import { PartPool } from './part-pool.js';
import { signPayloadAs } from './payload-hash.js';

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
  // The service checks each request's signed payload hash (x-amz-content-sha256; preflight): each PUT is signed
  // with the sha256 of its bytes computed on the way (each part's too), so the server verifies every byte.
  signedPayloads?: boolean | undefined;
  // The caller owns the key and rewrites it (a channel's messages.ndjson): an object there is replaced, not 'taken'.
  replace?: boolean | undefined;
  // A single PUT refused because an object is at the key (If-None-Match): the next key to try with the same bytes
  // (the caller moves its claim), so the body need not be downloaded again. Without it the upload is 'taken'.
  nextKey?: (() => Promise<string>) | undefined;
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
  // What is hashed besides the whole body's sha256: nothing where the service verifies checksums (the SDK sums each
  // part); each part's sha256 where it verifies signed payloads (none for a body declared to be one PUT: the whole
  // body's signs it); else each part's md5, for the ETag check.
  const onePut = request.expectedSize !== undefined && request.expectedSize <= request.partSize;
  const parts = request.checksum === true ? undefined : request.signedPayloads === true ? (onePut ? undefined : 'sha256') : 'md5';
  const digest = new Digest(request.partSize, parts);
  let answer: Answer;
  try {
    answer = await storeBody(request, digest);
  } catch (error) {
    if (!(error instanceof ServiceError)) throw error; // the body's, atEnd's
    request.signal?.throwIfAborted();
    if (isTaken(error)) return 'taken';
    throw transferError(error.error, `s3://${request.bucket}/${request.key}`);
  }
  const stored = { sha256: digest.sha256(), bytes: digest.bytes };
  await verifyObject(request, stored, digest, answer);
  return stored;
}

// What the service answered the request that completed the object (a PUT or CompleteMultipartUpload).
interface Answer {
  key: string; // where the object is (a single PUT may have moved on: nextKey)
  multipart: boolean;
  etag?: string | undefined;
  encrypted: boolean; // SSE-KMS or SSE-C: the ETag is not an md5 of the bytes
}

function answered(
  key: string,
  multipart: boolean,
  output: { ETag?: string | undefined; ServerSideEncryption?: string | undefined; SSECustomerAlgorithm?: string | undefined },
): Answer {
  const encrypted = output.ServerSideEncryption?.startsWith('aws:kms') === true || output.SSECustomerAlgorithm !== undefined;
  return { key, multipart, etag: output.ETag, encrypted };
}

// The service refused to complete the object because one is at the key (If-None-Match: *).
function isTaken(error: ServiceError): boolean {
  const { name, status } = s3ErrorCode(error.error);
  return name === 'PreconditionFailed' || status === 412;
}

// The body read into part buffers, each full one sent as a part (the first starts the multipart upload), the
// rest sent as the last part or as the one PUT once the body has ended and atEnd has accepted it.
async function storeBody(request: UploadRequest, digest: Digest): Promise<Answer> {
  const { signal, expectedSize, partSize } = request;
  if (expectedSize !== undefined && expectedSize <= partSize) return await storeSmall(request, digest);
  const pool = request.pool ?? new PartPool(partSize, request.queueSize + 1);
  let buffer: Buffer | undefined = await pool.acquire(signal);
  let fill = 0;
  let sent = 0; // parts sent
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
          await multipart.send(full, fill, digest.signedPart(sent++));
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
    if (multipart === undefined) {
      const answer = await putObject(request, last.subarray(0, fill), digest).catch(discarded(pool));
      pool.release(last);
      return answer;
    }
    await multipart.send(last, fill, digest.signedPart(sent));
    return answered(request.key, true, await multipart.complete());
  } catch (error) {
    await multipart?.abort();
    throw error;
  } finally {
    if (buffer !== undefined) pool.release(buffer); // never sent
  }
}

// A body declared to fit in one part: its chunks held as they come (no buffer of the whole size while it
// downloads, and outside the pool), joined once it has ended and atEnd has accepted it, then one PUT.
async function storeSmall(request: UploadRequest, digest: Digest): Promise<Answer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of request.body) {
    received(request, digest, chunk);
    chunks.push(chunk);
  }
  await ended(request, digest);
  return await putObject(request, Buffer.concat(chunks, digest.bytes), digest);
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

// The whole body as one PUT, If-None-Match: an object already at the key is not replaced; the next key
// (request.nextKey) gets the same bytes. Signed with the body's sha256 (and, where the service verifies checksums,
// carrying it as the object's checksum): both computed while the body streamed in.
async function putObject(request: UploadRequest, body: Buffer, digest: Digest): Promise<Answer> {
  const sha256 = Buffer.from(digest.sha256(), 'hex');
  for (let key = request.key; ; ) {
    const command = new PutObjectCommand({
      Bucket: request.bucket,
      Key: key,
      Body: body,
      ContentLength: body.length,
      ...(request.replace === true ? {} : { IfNoneMatch: '*' }),
      ...(request.checksum === true ? { ChecksumSHA256: sha256.toString('base64') } : {}),
      ...(request.contentType ? { ContentType: request.contentType } : {}),
      ...(request.metadata ? { Metadata: request.metadata } : {}),
    });
    signPayloadAs(command, sha256.toString('hex'));
    try {
      return answered(key, false, await service(request.client.send(command)));
    } catch (error) {
      if (!(error instanceof ServiceError) || !isTaken(error) || request.nextKey === undefined) throw error;
      request.signal?.throwIfAborted();
      key = await request.nextKey();
      checkKeyLength(request.bucket, key);
    }
  }
}

// The object as the service answered for it: its ETag is the md5 of its bytes (a single PUT) or the md5 of its
// parts' md5s (a multipart upload); a mismatch removes the object (it is this upload's own) and is retried. Where
// the service verified each PUT's bytes against their sha256 (request.checksum, or a signed payload hash:
// request.signedPayloads) there is nothing left to check. An answer without an
// ETag of that form (RGW 16 completes a multipart upload without one) or of an object encrypted with KMS or a
// customer key (whose ETag is no md5) is completed by a HEAD: its size, and its ETag where that can tell.
async function verifyObject(request: UploadRequest, stored: StoredObject, digest: Digest, answer: Answer): Promise<void> {
  if (request.checksum === true || request.signedPayloads === true) return; // the service has checked every byte
  const where = `s3://${request.bucket}/${answer.key}`;
  const form = answer.multipart ? /^[0-9a-f]{32}-\d+$/ : /^[0-9a-f]{32}$/;
  let etag = (answer.etag ?? '').replace(/"/g, '');
  let encrypted = answer.encrypted;
  let size: number | undefined; // unknown: an ETag of the md5s vouches for the bytes, so for their number too
  if (!form.test(etag) || encrypted) {
    const head = await request.client
      .send(new HeadObjectCommand({ Bucket: request.bucket, Key: answer.key }), request.signal ? { abortSignal: request.signal } : {})
      .catch((error: unknown) => {
        throw transferError(error, where);
      });
    const told = answered(answer.key, answer.multipart, head);
    etag = (told.etag ?? '').replace(/"/g, '');
    encrypted ||= told.encrypted;
    size = head.ContentLength ?? -1;
  }
  const sizeRight = size === undefined || size === stored.bytes;
  const etagRight = encrypted || !form.test(etag) || etag === (answer.multipart ? digest.multipartEtag() : digest.singleEtag());
  if (sizeRight && etagRight) return;
  await request.client.send(new DeleteObjectCommand({ Bucket: request.bucket, Key: answer.key })).catch(() => undefined);
  throw new DownloadError(`the stored object ${where} does not match the bytes sent (${size ?? stored.bytes} bytes, ETag ${etag}): removed, retried`, {
    retryable: true,
    reason: 'size_mismatch',
  });
}

// sha256 of the whole body, and (`parts`) a hash of each `partSize` window, the parts: every part but the last is
// exactly partSize, and a body of one part is one PUT. md5s for the ETag check (a single PUT's ETag is its one part's
// md5); sha256s to sign each part with (the whole body's sha256 signs a single PUT).
class Digest {
  bytes = 0;
  readonly #sha256 = createHash('sha256');
  readonly #parts: Buffer[] = [];
  #part: Hash | undefined;
  #fill = 0;
  #sha: string | undefined;
  constructor(
    readonly partSize: number,
    readonly parts: 'md5' | 'sha256' | undefined,
  ) {}

  update(chunk: Uint8Array): void {
    this.#sha256.update(chunk);
    this.bytes += chunk.byteLength;
    if (this.parts === undefined) return;
    let offset = 0;
    while (offset < chunk.byteLength) {
      if (this.#part === undefined || this.#fill === this.partSize) {
        if (this.#part !== undefined) this.#parts.push(this.#part.digest());
        this.#part = createHash(this.parts);
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

  // The payload hash (hex) of part `index` (from 0), read once that part is complete (the body has been hashed up
  // to the chunk being copied, so it may be a window already finished). Undefined (sent unsigned) unless the
  // service verifies signed payloads.
  signedPart(index: number): string | undefined {
    if (this.parts !== 'sha256') return undefined;
    const done = this.#parts[index];
    return (done ?? (this.#part ?? createHash('sha256')).copy().digest()).toString('hex');
  }

  #partHashes(): Buffer[] {
    return [...this.#parts, (this.#part ?? createHash(this.parts ?? 'md5')).copy().digest()];
  }

  // A single PUT's ETag: the md5 of its one part (of no bytes for an empty body).
  singleEtag(): string {
    return this.#partHashes()[0]!.toString('hex');
  }

  multipartEtag(): string {
    const parts = this.#partHashes();
    return `${createHash('md5').update(Buffer.concat(parts)).digest('hex')}-${parts.length}`;
  }
}
