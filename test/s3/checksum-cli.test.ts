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
