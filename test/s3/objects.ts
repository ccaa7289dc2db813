// What a bucket holds, for the S3 tests: every object under a prefix with its bytes' sha256, the multipart uploads
// left, and the key of a record's `s3://bucket/key` path.

import { createHash } from 'node:crypto';
import { GetObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';

// key -> { sha256, bytes } of every object under `prefix`.
export async function objectsUnder(client: S3Client, bucket: string, prefix = ''): Promise<Map<string, { sha256: string; bytes: Buffer }>> {
  const out = new Map<string, { sha256: string; bytes: Buffer }>();
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }));
    for (const object of page.Contents ?? []) {
      const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: object.Key! }));
      const bytes = Buffer.from(await got.Body!.transformToByteArray());
      out.set(object.Key!, { sha256: createHash('sha256').update(bytes).digest('hex'), bytes });
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out;
}

// The multipart uploads in progress in the bucket (all of them, any prefix).
export async function uploadsIn(client: S3Client, bucket: string): Promise<string[]> {
  const page = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  return (page.Uploads ?? []).map((u) => u.Key!);
}

// `s3://bucket/key` -> key.
export function keyOf(bucket: string, path: unknown): string {
  const head = `s3://${bucket}/`;
  if (typeof path !== 'string' || !path.startsWith(head)) throw new Error(`not in ${bucket}: ${String(path)}`);
  return path.slice(head.length);
}

// A scrape's arguments into `out` (s3://bucket/prefix) against a fake Discord at `api`: one channel when
// `channel` is given, else all of the server's, path-style requests (RGW), then `extra`.
export function s3Args(api: string, server: string, channel: string | undefined, out: string, state: string, ...extra: string[]): string[] {
  const which = channel === undefined ? ['--all-channels'] : ['--channel-id', channel];
  return ['--server-id', server, ...which, '--api', api, '--out', out, '--state', state, '--s3-force-path-style', ...extra];
}
