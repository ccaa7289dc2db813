// lib/s3/upload.ts against a real S3 server: a body streams into one PUT or a multipart upload and is verified
// (the ETag the service answers against the md5s; a HEAD for the size where the ETag cannot tell); a wrong size, a refusal at the end of the body (a duplicate) and an abort leave no
// object and no upload; an object already at the key is never replaced. Part memory: uploads sharing a part pool
// stay within its capacity (and store the right bytes), one upload holds at most queueSize + 1 parts, and every
// buffer comes back after a failure.

import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { startS3Proxy } from '../../fixtures/s3-proxy.js';
import { MIN_PART_SIZE } from '../../lib/s3/destination.js';
import { PartPool } from '../../lib/s3/part-pool.js';
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

// With signedPayloads every PUT and part is signed with the sha256 hashed on the way, which RGW checks: a part
// hashed over the wrong window would be refused (XAmzContentSHA256Mismatch).
for (const signedPayloads of [false, true]) {
  t.test(
    `one PUT and multipart uploads, at and around the part boundaries, are stored and verified${signedPayloads ? ' (signed payloads)' : ''}`,
    async (t) => {
      const dir = signedPayloads ? 'signed-sizes' : 'sizes';
      for (const size of [0, 1, MIN_PART_SIZE - 1, MIN_PART_SIZE, MIN_PART_SIZE + 1, 2 * MIN_PART_SIZE, 2 * MIN_PART_SIZE + 12_345]) {
        for (const declared of [true, false]) {
          const bytes = randomBytes(size);
          let received = false;
          const key = `${dir}/${size}${declared ? '' : '-undeclared'}`;
          const extra = { onReceived: () => (received = true), signedPayloads, ...(declared ? {} : { expectedSize: undefined }) };
          const stored = await uploadObject(request(key, bytes, extra));
          t.same(stored, { sha256: sha(bytes), bytes: size }, `${key}: stored, hashed on the way`);
          t.ok(received, `${key}: onReceived was called`);
        }
      }
      const objects = await objectsUnder(client, bucket, `${dir}/`);
      t.equal(objects.size, 14, 'every object is there');
      t.ok(
        [...objects].every(([key, o]) => o.bytes.length === Number.parseInt(key.slice(dir.length + 1), 10)),
        'with its size',
      );
      t.same(await uploadsIn(client, bucket), [], 'no upload left');
    },
  );
}

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

t.test('uploads sharing a part pool never hold more than its capacity, and store every byte right', async (t) => {
  // 4 uploads of 3.5 parts each at once over 3 buffers: they wait for each other's parts; a buffer given back
  // too early (before its part is stored) would corrupt another upload's object (ETag check, sha256 below).
  const pool = new PartPool(MIN_PART_SIZE, 3);
  const bodies = Array.from({ length: 4 }, () => randomBytes(3 * MIN_PART_SIZE + 777));
  const stored = await Promise.all(bodies.map((bytes, i) => uploadObject(request(`pool/${i}`, bytes, { pool }))));
  t.same(
    stored,
    bodies.map((bytes) => ({ sha256: sha(bytes), bytes: bytes.length })),
  );
  t.ok(pool.peak <= 3, `at most 3 part buffers alive (peak ${pool.peak})`);
  t.equal(pool.alive, 0, 'none kept once the uploads are done');
  const objects = await objectsUnder(client, bucket, 'pool/');
  t.same(
    bodies.map((_, i) => objects.get(`pool/${i}`)?.sha256),
    bodies.map(sha),
    'each object holds its own bytes',
  );
  t.same(await uploadsIn(client, bucket), [], 'no upload left');
});

t.test('one body of many parts holds at most queueSize + 1 part buffers, its size declared or not', async (t) => {
  for (const expectedSize of [7 * MIN_PART_SIZE + 1, undefined]) {
    const pool = new PartPool(MIN_PART_SIZE, 100);
    const bytes = randomBytes(7 * MIN_PART_SIZE + 1);
    const stored = await uploadObject(request(`bound/${expectedSize}`, bytes, { pool, expectedSize }));
    t.same(stored, { sha256: sha(bytes), bytes: bytes.length });
    t.ok(pool.peak <= 3, `${expectedSize ?? 'undeclared'}: at most 2 parts in flight and 1 filling (peak ${pool.peak})`);
    t.equal(pool.alive, 0);
  }
  const pool = new PartPool(MIN_PART_SIZE, 100);
  const small = randomBytes(1000);
  t.same(await uploadObject(request('bound/small', small, { pool })), { sha256: sha(small), bytes: 1000 });
  t.equal(pool.peak, 0, 'a body declared to fit in one part takes no pool buffer');
  t.same(await uploadObject(request('bound/small-undeclared', small, { pool, expectedSize: undefined })), { sha256: sha(small), bytes: 1000 });
  t.equal(pool.alive, 0, 'an undeclared one gives its buffer back');
});

t.test('a failed or refused multipart upload gives every part buffer back', async (t) => {
  const pool = new PartPool(MIN_PART_SIZE, 3);
  const bytes = randomBytes(3 * MIN_PART_SIZE + 5);
  await t.rejects(uploadObject(request('fail/short', bytes, { pool, expectedSize: bytes.length + 1 })), { code: 'DPS_DOWNLOAD', reason: 'size_mismatch' });
  await t.rejects(uploadObject(request('fail/long', bytes, { pool, expectedSize: bytes.length - 1 })), { code: 'DPS_DOWNLOAD', reason: 'size_mismatch' });
  const refusal = new Error('duplicate');
  await t.rejects(uploadObject(request('fail/dup', bytes, { pool, atEnd: () => Promise.reject(refusal) })), refusal);
  const broken = new Error('the download broke');
  async function* failing(): AsyncGenerator<Uint8Array> {
    yield* chunks(bytes.subarray(0, 2 * MIN_PART_SIZE + 3));
    throw broken;
  }
  await t.rejects(uploadObject(request('fail/body', bytes, { pool, body: failing() })), broken);
  t.equal(pool.alive, 0, 'no buffer held after the failures');
  t.ok(pool.peak <= 3);
  t.equal((await objectsUnder(client, bucket, 'fail/')).size, 0, 'no object');
  t.same(await uploadsIn(client, bucket), [], 'no upload left');
});

// Through a proxy that lies about what it stored (fixtures/s3-proxy.ts): the check uses the service's answer.
t.test('a wrong ETag in the answer (PUT or completion): the object is removed and the upload fails to be retried', async (t) => {
  const proxy = await startS3Proxy(s3.endpoint);
  t.teardown(() => proxy.close());
  const viaProxy = s3.client({ endpoint: proxy.endpoint });
  t.teardown(() => viaProxy.destroy());
  for (const size of [1_000, 2 * MIN_PART_SIZE + 5]) {
    // The PUT's answer; the completion's and the HEAD's after it (RGW completes without an ETag: dps asks by a HEAD).
    proxy.clear();
    proxy.wrongEtag({
      match: (r) => (r.method === 'PUT' && !r.query.has('partNumber')) || (r.method === 'POST' && r.query.has('uploadId')) || r.method === 'HEAD',
    });
    const bytes = randomBytes(size);
    await t.rejects(uploadObject(request(`lied/${size}`, bytes, { client: viaProxy })), { code: 'DPS_DOWNLOAD', reason: 'size_mismatch' }, `${size} bytes`);
  }
  t.ok(proxy.stats().wrongEtag >= 2, 'the answers were changed');
  t.equal((await objectsUnder(client, bucket, 'lied/')).size, 0, 'no object left');
  t.same(await uploadsIn(client, bucket), [], 'no upload left');
  // Told by the answer alone: nothing else asked of the service but the upload itself.
  proxy.clear();
  const before = proxy.stats().requests;
  const honest = randomBytes(1_000);
  t.same(await uploadObject(request('lied/honest', honest, { client: viaProxy })), { sha256: sha(honest), bytes: 1_000 });
  t.equal(proxy.stats().requests - before, 1, 'an honest single PUT costs one request (no HEAD)');
});

t.test('an answer saying the object is encrypted with KMS: its ETag is not compared, a HEAD checks the size', async (t) => {
  const proxy = await startS3Proxy(s3.endpoint, { record: true });
  t.teardown(() => proxy.close());
  const viaProxy = s3.client({ endpoint: proxy.endpoint });
  t.teardown(() => viaProxy.destroy());
  const when = {
    match: (r: { method: string; query: URLSearchParams }) =>
      (r.method === 'PUT' && !r.query.has('partNumber')) || (r.method === 'POST' && r.query.has('uploadId')) || r.method === 'HEAD',
  };
  proxy.wrongEtag(when);
  proxy.kms(when);
  for (const size of [1_000, 2 * MIN_PART_SIZE + 5]) {
    const bytes = randomBytes(size);
    t.same(await uploadObject(request(`kms/${size}`, bytes, { client: viaProxy })), { sha256: sha(bytes), bytes: size }, `${size} bytes stored`);
  }
  t.equal(proxy.recorded().filter((r) => r.method === 'HEAD').length, 2, 'one HEAD per object');
});

t.test('a single PUT refused at a taken key goes to the next key with the same bytes (the body read once)', async (t) => {
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'moved/a', Body: 'theirs' }));
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'moved/b', Body: 'theirs too' }));
  const bytes = randomBytes(10_000);
  let reads = 0;
  const body = (async function* () {
    reads++;
    yield* chunks(bytes);
  })();
  const keys = ['moved/b', 'moved/c'];
  const asked: string[] = [];
  const nextKey = async (): Promise<string> => {
    asked.push(keys[asked.length]!);
    return asked.at(-1)!;
  };
  t.same(await uploadObject(request('moved/a', bytes, { body, nextKey })), { sha256: sha(bytes), bytes: bytes.length });
  t.same(asked, ['moved/b', 'moved/c'], 'two keys were taken');
  t.equal(reads, 1, 'the body was read once');
  const objects = await objectsUnder(client, bucket, 'moved/');
  t.equal(objects.get('moved/a')?.bytes.toString(), 'theirs', 'their objects are intact');
  t.equal(objects.get('moved/b')?.bytes.toString(), 'theirs too');
  t.equal(objects.get('moved/c')?.sha256, sha(bytes), 'the bytes are at the third key');
});

t.test("a single PUT is signed with the body's own sha256 (a service checking it refuses other bytes)", async (t) => {
  // dps sets x-amz-content-sha256 from the sha256 computed while the body streamed in (the SDK would hash the body
  // once more). RGW checks it, as AWS S3 does; so does the proxy's verifyPayloadHashes (counted there).
  const proxy = await startS3Proxy(s3.endpoint);
  t.teardown(() => proxy.close());
  proxy.verifyPayloadHashes();
  const viaProxy = s3.client({ endpoint: proxy.endpoint });
  t.teardown(() => viaProxy.destroy());
  for (const size of [0, 5_000, MIN_PART_SIZE]) {
    const bytes = randomBytes(size);
    t.same(await uploadObject(request(`signed/${size}`, bytes, { client: viaProxy })), { sha256: sha(bytes), bytes: size }, `${size} bytes`);
  }
  t.equal(proxy.stats().payloadChecked, 3, "each PUT carried its body's sha256, checked");
  for (const via of [viaProxy, client]) {
    const lying = new PutObjectCommand({ Bucket: bucket, Key: 'signed/lying', Body: randomBytes(100), ContentLength: 100 });
    lying.middlewareStack.add(
      (next) => async (args) => {
        (args.request as { headers: Record<string, string> }).headers['x-amz-content-sha256'] = sha(randomBytes(10));
        return await next(args);
      },
      { step: 'build' },
    );
    await t.rejects(via.send(lying), { name: 'XAmzContentSHA256Mismatch' }, `${via === client ? 'RGW' : 'the proxy'} refuses a wrong one`);
  }
});

t.test('signed payloads: each part signed with its own sha256, and no ETag check or HEAD after (the server checked)', async (t) => {
  const proxy = await startS3Proxy(s3.endpoint, { record: true });
  t.teardown(() => proxy.close());
  const viaProxy = s3.client({ endpoint: proxy.endpoint });
  t.teardown(() => viaProxy.destroy());
  // The completion's answer (and any HEAD's) lies about the object's ETag: not looked at.
  proxy.wrongEtag({ match: (r) => (r.method === 'POST' && r.query.has('uploadId')) || r.method === 'HEAD' });
  const bytes = randomBytes(2 * MIN_PART_SIZE + 99);
  t.same(await uploadObject(request('signed-parts/a', bytes, { client: viaProxy, signedPayloads: true })), { sha256: sha(bytes), bytes: bytes.length });
  const payload = (r: { rawHeaders: string[] }): string | undefined =>
    r.rawHeaders[r.rawHeaders.findIndex((h, n) => n % 2 === 0 && h.toLowerCase() === 'x-amz-content-sha256') + 1];
  const parts = proxy.recorded().filter((r) => r.method === 'PUT' && r.path.includes('partNumber='));
  t.same(
    parts.map(payload),
    [0, 1, 2].map((i) => sha(bytes.subarray(i * MIN_PART_SIZE, (i + 1) * MIN_PART_SIZE))),
    'three parts, each signed with its sha256',
  );
  t.equal(proxy.recorded().filter((r) => r.method === 'HEAD').length, 0, 'no HEAD');
  t.equal((await objectsUnder(client, bucket, 'signed-parts/')).get('signed-parts/a')?.sha256, sha(bytes), 'the object is intact');
});

t.test('multipart parts go unsigned (UNSIGNED-PAYLOAD: checked by the ETag, not hashed by the SDK once more)', async (t) => {
  const proxy = await startS3Proxy(s3.endpoint, { record: true });
  t.teardown(() => proxy.close());
  const viaProxy = s3.client({ endpoint: proxy.endpoint });
  t.teardown(() => viaProxy.destroy());
  const bytes = randomBytes(2 * MIN_PART_SIZE + 99);
  t.same(await uploadObject(request('unsigned/a', bytes, { client: viaProxy })), { sha256: sha(bytes), bytes: bytes.length });
  const parts = proxy.recorded().filter((r) => r.method === 'PUT' && r.path.includes('partNumber='));
  const payload = (r: { rawHeaders: string[] }): string | undefined =>
    r.rawHeaders[r.rawHeaders.findIndex((h, n) => n % 2 === 0 && h.toLowerCase() === 'x-amz-content-sha256') + 1];
  t.same(parts.map(payload), ['UNSIGNED-PAYLOAD', 'UNSIGNED-PAYLOAD', 'UNSIGNED-PAYLOAD'], 'three parts, unsigned');
  t.equal((await objectsUnder(client, bucket, 'unsigned/')).get('unsigned/a')?.sha256, sha(bytes), 'the object is intact');
});
