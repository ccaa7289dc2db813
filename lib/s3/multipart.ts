// Object storage (issue 26): one multipart upload, with the SDK's commands (CreateMultipartUpload, UploadPart,
// CompleteMultipartUpload, AbortMultipartUpload). Parts are sent from the part pool's buffers, at most
// `queueSize` at once; a buffer goes back to the pool once its part is stored, and is discarded if its request
// failed. Abort waits for the parts in flight to settle before AbortMultipartUpload (a part still arriving could
// otherwise outlive the abort), and sends it even when the run's signal has fired (the upload must not stay).

import { AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import type { CompleteMultipartUploadCommandOutput, CompletedPart, S3Client } from '@aws-sdk/client-s3';
import type { PartPool } from './part-pool.js';
import { signPayloadAs, UNSIGNED_PAYLOAD } from './payload-hash.js';

// What the parts of one object share.
export interface MultipartTarget {
  client: S3Client;
  bucket: string;
  key: string;
  contentType?: string | undefined;
  metadata?: Record<string, string> | undefined; // user metadata (x-amz-meta-*), set when the upload is created
  replace?: boolean | undefined; // an object at the key is replaced (no If-None-Match on completion)
  checksum?: boolean | undefined; // each part carries its sha256 (ChecksumAlgorithm SHA256), the service checks it
  queueSize: number;
  pool: PartPool;
}

// An error of a request to the service (not of the body): uploadObject translates it once (errors.ts).
export class ServiceError extends Error {
  constructor(readonly error: unknown) {
    super('S3 request failed', { cause: error });
  }
}

// A request to the service, its failure wrapped as a ServiceError.
export function service<T>(call: Promise<T>): Promise<T> {
  return call.catch((error: unknown) => {
    throw new ServiceError(error);
  });
}

export class Multipart {
  readonly #parts: CompletedPart[] = [];
  readonly #inFlight = new Set<Promise<void>>();
  readonly #stop = new AbortController(); // cancels the parts in flight when the upload fails
  #failed: ServiceError | undefined;
  #next = 1;

  private constructor(
    readonly target: MultipartTarget,
    readonly uploadId: string,
  ) {}

  // Starts a multipart upload at the target's key. Like the PUTs that complete an object, it is not cancelled by
  // the run's signal (an upload created unseen would stay until the next run's sweep).
  static async create(target: MultipartTarget): Promise<Multipart> {
    const created = await service(
      target.client.send(
        new CreateMultipartUploadCommand({
          Bucket: target.bucket,
          Key: target.key,
          ...(target.contentType ? { ContentType: target.contentType } : {}),
          ...(target.metadata ? { Metadata: target.metadata } : {}),
          ...(target.checksum === true ? { ChecksumAlgorithm: 'SHA256' as const } : {}),
        }),
      ),
    );
    if (created.UploadId === undefined) throw new ServiceError(new Error('CreateMultipartUpload answered without an UploadId'));
    return new Multipart(target, created.UploadId);
  }

  // Sends the first `length` bytes of `buffer` (a pool buffer; signed with `payloadSha256`, their sha256 in hex,
  // when given) as the next part, once fewer than queueSize parts are in flight. Resolves when the part is on its
  // way; throws the failure of an earlier part.
  async send(buffer: Buffer, length: number, payloadSha256?: string): Promise<void> {
    while (this.#inFlight.size >= this.target.queueSize) await Promise.race(this.#inFlight);
    if (this.#failed !== undefined) {
      this.target.pool.release(buffer); // never sent: no request holds it
      throw this.#failed;
    }
    const { client, bucket, key, checksum, pool } = this.target;
    const partNumber = this.#next++;
    const command = new UploadPartCommand({
      Bucket: bucket,
      Key: key,
      UploadId: this.uploadId,
      PartNumber: partNumber,
      Body: buffer.subarray(0, length),
      ...(checksum === true ? { ChecksumAlgorithm: 'SHA256' as const } : {}),
    });
    // Signed with its sha256 where the service verifies signed payloads (computed while the body streamed in),
    // else unsigned: checked by the ETag or the part's checksum. The SDK never hashes a part once more.
    signPayloadAs(command, payloadSha256 ?? UNSIGNED_PAYLOAD);
    const sent = client
      .send(command, { abortSignal: this.#stop.signal })
      .then(
        (result) => {
          pool.release(buffer);
          if (result.ETag === undefined) throw new Error(`UploadPart ${partNumber} answered without an ETag`);
          this.#parts.push({ PartNumber: partNumber, ETag: result.ETag, ...(result.ChecksumSHA256 ? { ChecksumSHA256: result.ChecksumSHA256 } : {}) });
        },
        (error: unknown) => {
          pool.discard(); // its socket may still hold it
          throw error;
        },
      )
      .catch((error: unknown) => {
        this.#failed ??= new ServiceError(error);
      })
      .finally(() => this.#inFlight.delete(sent));
    this.#inFlight.add(sent);
  }

  // Completes the upload once every part is stored (If-None-Match: an object written at the key meanwhile is
  // not replaced, where the service supports it). Resolves to the service's answer (its ETag); throws a
  // ServiceError, and the caller aborts.
  async complete(): Promise<CompleteMultipartUploadCommandOutput> {
    await Promise.all(this.#inFlight);
    if (this.#failed !== undefined) throw this.#failed;
    const parts = this.#parts.sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
    return await service(
      this.target.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.target.bucket,
          Key: this.target.key,
          UploadId: this.uploadId,
          MultipartUpload: { Parts: parts },
          ...(this.target.replace === true ? {} : { IfNoneMatch: '*' }),
        }),
      ),
    );
  }

  // Cancels the parts in flight, waits for them, and aborts the upload (its failure is left to the next run's
  // sweep of the prefix).
  async abort(): Promise<void> {
    this.#stop.abort();
    await Promise.all(this.#inFlight);
    await this.target.client
      .send(new AbortMultipartUploadCommand({ Bucket: this.target.bucket, Key: this.target.key, UploadId: this.uploadId }))
      .catch(() => undefined);
  }
}
