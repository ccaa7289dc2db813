// Object storage (issue 26): the single-object requests the stages make besides uploads: is an object there (and
// its size), its sha256 (an object a killed run completed but did not record), a server-side copy (a duplicate
// with --s3-copy-duplicates), a removal (this run's own object, found to duplicate an earlier one).

import { createHash } from 'node:crypto';
import { CopyObjectCommand, DeleteObjectCommand, GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { objectUrl } from './destination.js';
import { isNotFound, transferError } from './errors.js';

// The object of one key in one bucket, and the client that reaches it.
export interface ObjectRef {
  client: S3Client;
  bucket: string;
  signal?: AbortSignal | undefined;
}

const opts = (ref: ObjectRef): { abortSignal?: AbortSignal } => (ref.signal ? { abortSignal: ref.signal } : {});

// The object's size, or undefined when there is none at `key`.
export async function objectSize(ref: ObjectRef, key: string): Promise<number | undefined> {
  try {
    const head = await ref.client.send(new HeadObjectCommand({ Bucket: ref.bucket, Key: key }), opts(ref));
    return head.ContentLength ?? 0;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    ref.signal?.throwIfAborted();
    throw transferError(error, objectUrl(ref.bucket, key));
  }
}

// The sha256 of the object's bytes, read as a stream.
export async function hashObject(ref: ObjectRef, key: string): Promise<string> {
  try {
    const got = await ref.client.send(new GetObjectCommand({ Bucket: ref.bucket, Key: key }), opts(ref));
    const hash = createHash('sha256');
    for await (const chunk of got.Body as AsyncIterable<Uint8Array>) hash.update(chunk);
    return hash.digest('hex');
  } catch (error) {
    ref.signal?.throwIfAborted();
    throw transferError(error, objectUrl(ref.bucket, key));
  }
}

// A server-side copy of `from` to `to` (the caller holds `to`'s claim and has seen it free). With `own`, the copy
// gets its own content type and user metadata (its post time) instead of the source's.
export async function copyObject(
  ref: ObjectRef,
  from: string,
  to: string,
  own?: { contentType?: string | undefined; metadata?: Record<string, string> | undefined },
): Promise<void> {
  const replace =
    own === undefined
      ? {}
      : { MetadataDirective: 'REPLACE' as const, Metadata: own.metadata ?? {}, ...(own.contentType ? { ContentType: own.contentType } : {}) };
  try {
    await ref.client.send(
      new CopyObjectCommand({ Bucket: ref.bucket, Key: to, CopySource: `${ref.bucket}/${encodeURIComponent(from).replace(/%2F/g, '/')}`, ...replace }),
      opts(ref),
    );
  } catch (error) {
    ref.signal?.throwIfAborted();
    throw transferError(error, objectUrl(ref.bucket, to));
  }
}

// Removes this run's own object at `key`.
export async function deleteObject(ref: ObjectRef, key: string): Promise<void> {
  try {
    await ref.client.send(new DeleteObjectCommand({ Bucket: ref.bucket, Key: key }), opts(ref));
  } catch (error) {
    ref.signal?.throwIfAborted();
    throw transferError(error, objectUrl(ref.bucket, key));
  }
}
