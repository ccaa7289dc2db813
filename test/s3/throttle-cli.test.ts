// Throttling and faults between dps and S3 (issue 26), injected by a proxy in front of the real server
// (fixtures/s3-proxy.ts): SlowDown 503s and connection resets mid-upload are retried (the SDK's retries, then the
// run's), every file ends up stored once with the right bytes, nothing partial or orphaned is left.

import t from 'tap';
import { join } from 'node:path';
import { startS3Proxy } from '../../fixtures/s3-proxy.js';
import { singleChannel } from '../../fixtures/scenarios.js';
import { fakeFor, firstTarget, ofEvent, runDps } from '../cli/helpers.js';
import { bucketName, s3Server } from '../helpers/s3-server.js';
import { keyOf, objectsUnder, uploadsIn, s3Args } from './objects.js';

const s3 = await s3Server();
t.teardown(() => s3.stop());
const client = s3.client();
t.teardown(() => client.destroy());

// The uploads of files (not the preflight's test write).
const writes = (request: { method: string; key: string }): boolean =>
  request.method === 'PUT' && request.key.startsWith('x/') && !request.key.includes('.dps-write-check');

t.test('SlowDown on every second write and resets mid-upload: retried, every object right', async (t) => {
  const fake = await fakeFor(t, { scenario: singleChannel({ seed: 66, messages: 12, imageRatio: 1, sizes: [2_000, 30_000] }) });
  const { G, C } = firstTarget(fake);
  const bucket = await s3.createBucket(bucketName('throttle'));
  const proxy = await startS3Proxy(s3.endpoint);
  t.teardown(() => proxy.close());
  proxy.slowDown({ share: 0.5, match: writes });
  proxy.reset({ next: 2, match: writes });
  const dir = t.testdir();
  const args = s3Args(fake.api, G, C, `s3://${bucket}/x`, join(dir, 'state'), '--types', 'all');
  const run = await runDps(args, { env: { ...s3.env(), AWS_ENDPOINT_URL_S3: proxy.endpoint, DISCORD_TOKEN: fake.token } });
  t.equal(run.code, 0, `exit 0 (stderr: ${run.stderr})`);
  const stats = proxy.stats();
  t.ok(stats.slowDown >= 5, `SlowDown answered ${stats.slowDown} times`);
  t.ok(stats.reset >= 1, `uploads were reset mid-body (${stats.reset})`);
  const expected = [...fake.expected({ channelId: C })];
  const saved = run.lines.filter(ofEvent('saved'));
  t.same(saved.map((l) => String(l.attachment_id)).sort(), expected.map((a) => a.attachment_id).sort(), 'every file announced once');
  const objects = await objectsUnder(client, bucket);
  const byId = new Map(expected.map((a) => [a.attachment_id, a.sha256]));
  t.same(
    saved.filter((l) => objects.get(keyOf(bucket, l.path))?.sha256 !== byId.get(String(l.attachment_id))),
    [],
    'each object holds its bytes',
  );
  t.equal(objects.size, new Set(saved.map((l) => l.path)).size, 'no other object');
  t.same(await uploadsIn(client, bucket), [], 'no upload left');
});

t.test('a write refused past every retry fails the file (s3_error); the next run stores it', async (t) => {
  const fake = await fakeFor(t, { scenario: singleChannel({ seed: 67, messages: 3, imageRatio: 1, sizes: [2_000, 3_000] }) });
  const { G, C } = firstTarget(fake);
  const bucket = await s3.createBucket(bucketName('refused'));
  const proxy = await startS3Proxy(s3.endpoint);
  t.teardown(() => proxy.close());
  proxy.slowDown({ match: writes }); // every write, until cleared
  const dir = t.testdir();
  const args = s3Args(fake.api, G, C, `s3://${bucket}/x`, join(dir, 'state'), '--types', 'all', '--backoff', '10');
  const env = { ...s3.env(), AWS_ENDPOINT_URL_S3: proxy.endpoint, DISCORD_TOKEN: fake.token };
  const run = await runDps(args, { env });
  t.equal(run.code, 1, `exit 1 (stderr: ${run.stderr})`);
  const failed = run.lines.filter(ofEvent('failed'));
  t.ok(failed.length > 0 && failed.every((l) => l.reason === 's3_error'), `failed with reason s3_error (${failed.length})`);
  t.match(String(failed[0]?.detail), /SlowDown/, 'the detail names the S3 error');
  t.equal((await objectsUnder(client, bucket)).size, 0, 'nothing stored');
  proxy.clear();
  const again = await runDps(args, { env });
  t.equal(again.code, 0, `the next run: exit 0 (stderr: ${again.stderr})`);
  t.equal(again.lines.filter(ofEvent('saved')).length, [...fake.expected({ channelId: C })].length, 'the failed files are stored');
});

t.test('a service answering SlowDown to everything at the start: exit 4, one line, no Discord request', async (t) => {
  const fake = await fakeFor(t, { scenario: singleChannel({ seed: 68, messages: 2, imageRatio: 1, sizes: [2_000, 3_000] }) });
  const { G, C } = firstTarget(fake);
  const bucket = await s3.createBucket(bucketName('busy'));
  const proxy = await startS3Proxy(s3.endpoint);
  t.teardown(() => proxy.close());
  proxy.slowDown();
  const dir = t.testdir();
  const args = s3Args(fake.api, G, C, `s3://${bucket}/x`, join(dir, 'state'));
  const run = await runDps(args, { env: { ...s3.env(), AWS_ENDPOINT_URL_S3: proxy.endpoint, DISCORD_TOKEN: fake.token } });
  t.equal(run.code, 4, `exit 4 (stderr: ${run.stderr})`);
  t.match(run.stderr, /S3 at http:\/\/127\.0\.0\.1:\d+ is busy or failing \(SlowDown, HTTP 503\) after retries/);
  t.equal(fake.requests.length, 0, 'no Discord request');
});
