// Object storage (issue 26): --write-metadata's per-file sidecar as an object, `<key>.json` beside the file's
// object. A single PUT (the object exists only complete) with If-None-Match: an object already at the name is
// replaced only when the caller vouches for it (its own earlier sidecar), never a foreign one.

import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { S3Target } from '../s3/destination.js';
import { keyOfUrl } from '../s3/destination.js';
import { s3ErrorCode, transferError } from '../s3/errors.js';

export interface S3SidecarOptions {
  s3: S3Target;
  // The JSON of the object already at the name (undefined when it is not JSON): may it be replaced?
  mayReplace: (existing: unknown) => boolean | Promise<boolean>;
  signal?: AbortSignal | undefined;
}

// `written`: the sidecar object is at `url` (s3://bucket/key.json); `taken`: another object holds the name.
export async function writeS3Sidecar(url: string, text: string, options: S3SidecarOptions): Promise<'written' | 'taken'> {
  const { client, settings } = options.s3;
  const key = keyOfUrl(settings.bucket, url);
  if (key === undefined) return 'taken';
  const opts = options.signal ? { abortSignal: options.signal } : {};
  const put = (onlyNew: boolean) =>
    client.send(
      new PutObjectCommand({ Bucket: settings.bucket, Key: key, Body: text, ContentType: 'application/json', ...(onlyNew ? { IfNoneMatch: '*' } : {}) }),
      opts,
    );
  try {
    await put(true);
    return 'written';
  } catch (error) {
    options.signal?.throwIfAborted();
    const { name, status } = s3ErrorCode(error);
    if (name !== 'PreconditionFailed' && status !== 412) throw transferError(error, url);
  }
  try {
    const got = await client.send(new GetObjectCommand({ Bucket: settings.bucket, Key: key }), opts);
    const body =
      got.ContentLength !== undefined && got.ContentLength > 1024 * 1024
        ? ''
        : await (got.Body as { transformToString(): Promise<string> }).transformToString();
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      json = undefined;
    }
    if (!(await options.mayReplace(json))) return 'taken';
    await put(false);
    return 'written';
  } catch (error) {
    options.signal?.throwIfAborted();
    throw transferError(error, url);
  }
}
