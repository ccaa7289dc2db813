// The shared S3 server (test/helpers/s3-server.ts) is a real S3: objects round-trip byte for byte through the
// AWS SDK (single PUT, lib-storage's multipart Upload, a multipart upload aborted), listings page, and requests
// signed with a wrong secret or an unknown key are refused.

import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import t from 'tap';
import { bucketName, s3Server } from '../helpers/s3-server.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'; // the SDK's notice about Node 20's end

const sha = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

t.test('put, get, head, list, delete through the SDK', async (t) => {
  const s3 = await s3Server();
  t.teardown(() => s3.stop());
  const client = s3.client();
  t.teardown(() => client.destroy());
  const bucket = await s3.createBucket(bucketName('roundtrip'));
  const body = randomBytes(300_000);
  const key = 'x/héllo wörld #1?&.bin'; // a key that needs escaping in the URL and in the signature
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  t.equal(sha(await got.Body!.transformToByteArray()), sha(body), 'the bytes read back are the bytes written');
  const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  t.equal(head.ContentLength, body.length);
  for (let i = 0; i < 5; i++) await client.send(new PutObjectCommand({ Bucket: bucket, Key: `many/${i}`, Body: String(i) }));
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'many/', MaxKeys: 2, ContinuationToken: token }));
    keys.push(...(page.Contents ?? []).map((o) => o.Key!));
    token = page.NextContinuationToken;
  } while (token !== undefined);
  t.same(keys, ['many/0', 'many/1', 'many/2', 'many/3', 'many/4'], 'a listing pages through every key, in order');
  await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  await t.rejects(client.send(new HeadObjectCommand({ Bucket: bucket, Key: key })), { name: 'NotFound' }, 'a deleted object is gone');
});

t.test("lib-storage's Upload streams a multipart object; an aborted multipart upload leaves nothing", async (t) => {
  const s3 = await s3Server();
  const client = s3.client();
  t.teardown(() => client.destroy());
  const bucket = await s3.createBucket(bucketName('multipart'));
  const part = 5 * 1024 * 1024;
  const bytes = randomBytes(part * 2 + 12_345); // three parts, the last one short
  const chunks = (function* () {
    for (let at = 0; at < bytes.length; at += 64 * 1024) yield bytes.subarray(at, at + 64 * 1024);
  })();
  const upload = new Upload({ client, params: { Bucket: bucket, Key: 'big.bin', Body: Readable.from(chunks) }, partSize: part, queueSize: 2 });
  await upload.done();
  const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'big.bin' }));
  t.equal(sha(await got.Body!.transformToByteArray()), sha(bytes), 'the multipart object reads back whole');
  const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'big.bin' }));
  t.match(head.ETag, /-3"$/, 'stored as three parts');

  const started = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'partial.bin' }));
  await client.send(new UploadPartCommand({ Bucket: bucket, Key: 'partial.bin', UploadId: started.UploadId, PartNumber: 1, Body: bytes.subarray(0, part) }));
  const listed = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  t.same(
    (listed.Uploads ?? []).map((u) => [u.Key, u.UploadId]),
    [['partial.bin', started.UploadId]],
    'an unfinished upload is listed',
  );
  await t.rejects(client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'partial.bin' })), { name: 'NotFound' }, 'and has no object');
  await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'partial.bin', UploadId: started.UploadId }));
  const after = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  t.same(after.Uploads ?? [], [], 'aborted: no upload left');
  await t.rejects(client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'partial.bin' })), { name: 'NotFound' }, 'and still no object');
});

t.test('signatures are checked: a wrong secret or an unknown key is refused', async (t) => {
  const s3 = await s3Server();
  const bucket = await s3.createBucket(bucketName('signed'));
  const good = s3.client();
  t.teardown(() => good.destroy());
  await good.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'v' }));
  const wrongSecret = s3.client({ credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: `${s3.secretAccessKey}x` } });
  const unknownKey = s3.client({ credentials: { accessKeyId: 'AKIANOSUCHKEY0000000', secretAccessKey: s3.secretAccessKey } });
  t.teardown(() => {
    wrongSecret.destroy();
    unknownKey.destroy();
  });
  await t.rejects(wrongSecret.send(new GetObjectCommand({ Bucket: bucket, Key: 'k' })), { name: 'SignatureDoesNotMatch' }, 'wrong secret: read refused');
  await t.rejects(
    wrongSecret.send(new PutObjectCommand({ Bucket: bucket, Key: 'k2', Body: 'v' })),
    { name: 'SignatureDoesNotMatch' },
    'wrong secret: write refused',
  );
  await t.rejects(unknownKey.send(new GetObjectCommand({ Bucket: bucket, Key: 'k' })), { name: 'InvalidAccessKeyId' }, 'unknown key refused');
  await t.rejects(good.send(new HeadObjectCommand({ Bucket: bucket, Key: 'k2' })), { name: 'NotFound' }, 'nothing was written by the refused PUT');
  await t.rejects(s3.createBucket(bucket), /already exists/, 'a taken bucket name fails loudly');
});

t.test('a missing bucket is NoSuchBucket', async (t) => {
  const s3 = await s3Server();
  const client = s3.client();
  t.teardown(() => client.destroy());
  await t.rejects(client.send(new PutObjectCommand({ Bucket: bucketName('absent'), Key: 'k', Body: 'v' })), { name: 'NoSuchBucket' });
});
