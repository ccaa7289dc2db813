// Objects already at the keys a run would use (put there by someone else) are never replaced, end to end: the
// built CLI against the fake Discord and a real S3 server (Ceph RGW) behind fixtures/s3-proxy.ts. A service that
// honours If-None-Match on PUT (RGW does; the preflight finds out) refuses each single PUT at a taken key and dps
// sends the same bytes to the next key: no HEAD before an upload, no file downloaded twice. A service that ignores
// the condition (the proxy answering like one) gets a HEAD before every upload instead. A file larger than one part
// (a multipart upload) always looks first.

import t from 'tap';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
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

for (const honoured of [true, false]) {
  t.test(`a service that ${honoured ? 'honours' : 'ignores'} If-None-Match: every taken key is left alone`, async (t) => {
    const proxy = await startS3Proxy(s3.endpoint, { record: true });
    t.teardown(() => proxy.close());
    if (!honoured) proxy.ignoreConditionalWrites();
    const viaProxy = s3.client({ endpoint: proxy.endpoint });
    t.teardown(() => viaProxy.destroy());
    // Small files (one PUT each) and two over the 5 MiB part (multipart uploads).
    const fake = await fakeFor(t, { scenario: singleChannel({ seed: 31, messages: 10, imageRatio: 1, sizes: [1_000, 60_000] }) });
    const bigFake = await fakeFor(t, { scenario: singleChannel({ seed: 32, messages: 2, imageRatio: 1, sizes: [6_000_000, 6_500_000] }) });
    const bucket = await s3.createBucket(bucketName(honoured ? 'takenyes' : 'takenno'));
    const env = { ...s3.env(), AWS_ENDPOINT_URL_S3: proxy.endpoint };
    for (const [name, f] of [
      ['small', fake],
      ['big', bigFake],
    ] as const) {
      const guild = f.scenario.guilds[0]!;
      const args = s3Args(f.api, guild.id, guild.channels[0]!.id, `s3://${bucket}/${name}`, join(t.testdir(), 'state'));
      const dry = await runDps([...args, '--dry-run'], { env: { ...env, DISCORD_TOKEN: f.token } });
      t.equal(dry.code, 0, `${name}: dry run exit 0 (stderr: ${dry.stderr})`);
      // Someone else's object at every key the run would use, written through the proxy (which then knows them).
      const foreign = dry.lines.filter(ofEvent('would_save')).map((l) => keyOf(bucket, l.path));
      t.ok(foreign.length > 0, `${name}: ${foreign.length} keys taken`);
      for (const key of foreign) await viaProxy.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: `not dps: ${key}` }));
      const before = proxy.recorded().length;
      const cdnBefore = f.requests.filter((r) => r.kind === 'cdn').length;

      const run = await runDps(args, { env: { ...env, DISCORD_TOKEN: f.token } });
      t.equal(run.code, 0, `${name}: exit 0 (stderr: ${run.stderr})`);
      const saved = run.lines.filter(ofEvent('saved'));
      const expected = new Map((await collect(f.expected({ guildId: guild.id }))).map((a) => [a.attachment_id, a.sha256]));
      t.equal(saved.length, expected.size, `${name}: every file saved`);
      const objects = await objectsUnder(client, bucket, `${name}/`);
      t.same(
        foreign.filter((key) => objects.get(key)?.bytes.toString() !== `not dps: ${key}`),
        [],
        `${name}: every foreign object intact`,
      );
      t.same(
        saved.filter((l) => foreign.includes(keyOf(bucket, l.path)) || objects.get(keyOf(bucket, l.path))?.sha256 !== expected.get(String(l.attachment_id))),
        [],
        `${name}: every file at a key of its own, with its bytes`,
      );
      const requests = proxy.recorded().slice(before);
      const heads = requests.filter((r) => r.method === 'HEAD' && !r.path.includes('.dps-write-check-')).length;
      const cdn = f.requests.filter((r) => r.kind === 'cdn').length - cdnBefore;
      if (name === 'small' && honoured) {
        t.equal(heads, 0, 'no HEAD: the service refuses a taken key itself');
        t.equal(cdn, saved.length, 'each file downloaded once (the refused bytes went to the next key)');
      } else {
        t.ok(heads >= saved.length, `${name}: a HEAD before each upload (${heads})`);
      }
      if (!honoured) t.equal(proxy.stats().conditionIgnored, name === 'small' ? 1 : 2, 'only the preflight probes met the ignored condition');
    }
  });
}
