// lib/s3/upload.ts against a real S3 server: a body streams into one PUT or a multipart upload and is verified
// (size, ETag from the md5s); a wrong size, a refusal at the end of the body (a duplicate) and an abort leave no
// object and no upload; an object already at the key is never replaced.

import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { MIN_PART_SIZE } from '../../lib/s3/destination.js';
import { uploadObject } from '../../lib/s3/upload.js';
import type { UploadRequest } from '../../lib/s3/upload.js';
import { bucketName, s3Server } from '../helpers/s3-server.js';
import { objectsUnder, uploadsIn } from './objects.js';

const s3 = await s3Server();
t.teardown(() => s3.stop());
const client = s3.client();
t.teardown(() => client.destroy());
const bucket = await s3.createBucket(bucketName('upload'));

// `bytes` in chunks of odd sizes (parts never align with chunks).
async function* chunks(bytes: Buffer, size = 65_537, onChunk?: (n: number) => void): AsyncGenerator<Uint8Array> {
  for (let i = 0, n = 0; i < bytes.length; i += size, n++) {
    onChunk?.(n);
    yield bytes.subarray(i, i + size);
  }
}

const sha = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');
const request = (key: string, bytes: Buffer, extra: Partial<UploadRequest> = {}): UploadRequest => ({
  client,
  bucket,
  key,
  body: chunks(bytes),
  expectedSize: bytes.length,
  partSize: MIN_PART_SIZE,
  queueSize: 2,
  ...extra,
});

t.test('one PUT and multipart uploads, at and around the part boundaries, are stored and verified', async (t) => {
  for (const size of [0, 1, MIN_PART_SIZE - 1, MIN_PART_SIZE, MIN_PART_SIZE + 1, 2 * MIN_PART_SIZE, 2 * MIN_PART_SIZE + 12_345]) {
    const bytes = randomBytes(size);
    let received = false;
    const stored = await uploadObject(request(`sizes/${size}`, bytes, { onReceived: () => (received = true) }));
    t.same(stored, { sha256: sha(bytes), bytes: size }, `${size} bytes: stored, hashed on the way`);
    t.ok(received, `${size} bytes: onReceived was called`);
  }
  const objects = await objectsUnder(client, bucket, 'sizes/');
  t.equal(objects.size, 7, 'every object is there');
  t.ok(
    [...objects].every(([key, o]) => o.bytes.length === Number(key.slice('sizes/'.length))),
    'with its size',
  );
  t.same(await uploadsIn(client, bucket), [], 'no upload left');
});

t.test('a body of the wrong size is refused (size_mismatch), nothing stored, the multipart upload aborted', async (t) => {
  for (const size of [1_000, 2 * MIN_PART_SIZE + 5]) {
    const bytes = randomBytes(size);
    await t.rejects(uploadObject(request(`short/${size}`, bytes, { expectedSize: size + 1 })), { code: 'DPS_DOWNLOAD', reason: 'size_mismatch' });
  }
  t.equal((await objectsUnder(client, bucket, 'short/')).size, 0, 'no object');
  t.same(await uploadsIn(client, bucket), [], 'no upload left');
});

t.test('atEnd refusing the bytes (a duplicate) leaves no object and no upload', async (t) => {
  for (const size of [1_000, 2 * MIN_PART_SIZE + 5]) {
    const bytes = randomBytes(size);
    const refusal = new Error('duplicate');
    let seen: { sha256: string; bytes: number } | undefined;
    const atEnd = async (file: { sha256: string; bytes: number }): Promise<void> => {
      seen = file;
      throw refusal;
    };
    await t.rejects(uploadObject(request(`dup/${size}`, bytes, { atEnd })), refusal, `${size} bytes: the refusal comes back as thrown`);
    t.same(seen, { sha256: sha(bytes), bytes: size }, 'atEnd saw the whole body');
  }
  t.equal((await objectsUnder(client, bucket, 'dup/')).size, 0, 'no object');
  t.same(await uploadsIn(client, bucket), [], 'no upload left');
});

t.test('an object already at the key is never replaced by a single PUT', async (t) => {
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'taken/a', Body: 'theirs' }));
  t.equal(await uploadObject(request('taken/a', randomBytes(100))), 'taken');
  t.equal((await objectsUnder(client, bucket, 'taken/')).get('taken/a')?.bytes.toString(), 'theirs', 'their object is intact');
});

t.test('aborted mid multipart upload: rejects, no object, no upload left', async (t) => {
  const controller = new AbortController();
  const bytes = randomBytes(3 * MIN_PART_SIZE);
  const body = chunks(bytes, 65_537, (n) => n === 120 && controller.abort());
  await t.rejects(uploadObject(request('aborted/a', bytes, { body, signal: controller.signal })));
  t.equal((await objectsUnder(client, bucket, 'aborted/')).size, 0, 'no object');
  t.same(await uploadsIn(client, bucket), [], 'no upload left');
});
