// The sha256 sent as the object checksum (issue 26) end to end: the built CLI against the fake Discord and a real
// S3 server (Ceph RGW). RGW 16 ignores x-amz-checksum-sha256 (the preflight finds out: no upload carries one);
// behind fixtures/s3-proxy.ts answering like a verifying service, every PUT (single and multipart parts) carries
// its sha256, which the proxy checks; the objects are intact either way.

import t from 'tap';
import { join } from 'node:path';
import { startS3Proxy } from '../../fixtures/s3-proxy.js';
import { singleChannel } from '../../fixtures/scenarios.js';
import { collect } from '../helpers/harness.js';
import { fakeFor, ofEvent, runDps } from '../cli/helpers.js';
import { keyOf, objectsUnder, s3Args } from './objects.js';
import { bucketName, s3Server } from '../helpers/s3-server.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'; // this test's own client
const s3 = await s3Server();
t.teardown(() => s3.stop());
const client = s3.client();
t.teardown(() => client.destroy());

for (const verifying of [false, true]) {
  t.test(
    verifying ? 'a verifying service: every PUT carries its sha256' : 'RGW 16 (no verification): no checksum sent, objects verified by ETag',
    async (t) => {
      const proxy = await startS3Proxy(s3.endpoint);
      t.teardown(() => proxy.close());
      if (verifying) proxy.verifyChecksums();
      // Files around one part (5 MiB): single PUTs and multipart uploads.
      const fake = await fakeFor(t, { scenario: singleChannel({ seed: 7, messages: 6, imageRatio: 1, sizes: [3_000_000, 7_000_000] }) });
      const bucket = await s3.createBucket(bucketName(verifying ? 'sumyes' : 'sumno'));
      const dir = t.testdir();
      const guild = fake.scenario.guilds[0]!;
      const args = s3Args(fake.api, guild.id, undefined, `s3://${bucket}/a`, join(dir, 'state'));
      const run = await runDps(args, { env: { ...s3.env(), AWS_ENDPOINT_URL_S3: proxy.endpoint, DISCORD_TOKEN: fake.token } });
      t.equal(run.code, 0, `exit 0 (stderr: ${run.stderr})`);
      const saved = run.lines.filter(ofEvent('saved'));
      t.ok(saved.length > 0, `${saved.length} saved`);
      const stats = proxy.stats();
      if (verifying) {
        t.equal(stats.badDigest, 1, 'only the preflight probe (a wrong checksum on purpose) was refused');
        t.ok(stats.checksummed >= saved.filter((l) => l.duplicate_of === undefined).length, `every upload carried its sha256 (${stats.checksummed} PUTs)`);
      } else {
        t.equal(stats.checksummed + stats.badDigest, 0, 'no PUT checked');
      }
      const objects = await objectsUnder(client, bucket);
      const expected = new Map((await collect(fake.expected({ guildId: guild.id }))).map((a) => [a.attachment_id, a.sha256]));
      t.same(
        saved.filter((l) => objects.get(keyOf(bucket, l.path))?.sha256 !== expected.get(String(l.attachment_id))).map((l) => l.path),
        [],
        'every object holds its bytes',
      );
    },
  );
}

// Signed payload hashes (x-amz-content-sha256): RGW checks them, and the preflight finds out, so dps signs every PUT
// and part with the sha256 it computed and leaves the ETag alone (a lying ETag is not noticed: nothing to retry).
// Behind a proxy answering like a service that does not check them, dps checks each object's ETag instead (a lying
// ETag makes it remove the object and fetch the file again).
for (const checked of [true, false]) {
  t.test(`a service that ${checked ? 'checks' : 'does not check'} signed payload hashes`, async (t) => {
    const proxy = await startS3Proxy(s3.endpoint, { record: true });
    t.teardown(() => proxy.close());
    if (!checked) proxy.ignorePayloadHashes();
    const fake = await fakeFor(t, { scenario: singleChannel({ seed: 9, messages: 4, imageRatio: 1, sizes: [2_000, 9_000] }) });
    const bucket = await s3.createBucket(bucketName(checked ? 'payyes' : 'payno'));
    const guild = fake.scenario.guilds[0]!;
    const args = s3Args(fake.api, guild.id, undefined, `s3://${bucket}/a`, join(t.testdir(), 'state'));
    // The first object's PUT is answered with a wrong ETag.
    proxy.wrongEtag({ next: 1, match: (r) => r.method === 'PUT' && r.key.startsWith('a/') && !r.key.includes('.dps-write-check-') });
    const run = await runDps(args, { env: { ...s3.env(), AWS_ENDPOINT_URL_S3: proxy.endpoint, DISCORD_TOKEN: fake.token } });
    t.equal(run.code, 0, `exit 0 (stderr: ${run.stderr})`);
    const saved = run.lines.filter(ofEvent('saved'));
    const expected = new Map((await collect(fake.expected({ guildId: guild.id }))).map((a) => [a.attachment_id, a.sha256]));
    t.equal(saved.length, expected.size, 'every file saved');
    const objects = await objectsUnder(client, bucket);
    t.same(
      saved.filter((l) => objects.get(keyOf(bucket, l.path))?.sha256 !== expected.get(String(l.attachment_id))).map((l) => l.path),
      [],
      'every object holds its bytes',
    );
    t.equal(proxy.stats().wrongEtag, 1, 'one answer lied');
    const cdn = fake.requests.filter((r) => r.kind === 'cdn').length;
    const puts = proxy.recorded().filter((r) => r.method === 'PUT' && r.path.includes('/a/') && !r.path.includes('.dps-write-check-'));
    const signed = puts.filter((r) =>
      /^[0-9a-f]{64}$/.test(r.rawHeaders[r.rawHeaders.findIndex((h, n) => n % 2 === 0 && h.toLowerCase() === 'x-amz-content-sha256') + 1] ?? ''),
    );
    t.equal(signed.length, puts.length, 'every PUT signed with its sha256');
    if (checked) t.equal(cdn, expected.size, 'the lie was not looked at: each file downloaded once');
    else t.equal(cdn, expected.size + 1, 'the lie was caught by the ETag check: that file fetched again');
  });
}
