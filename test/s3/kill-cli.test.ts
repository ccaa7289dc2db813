// kill -9 during a multipart upload, then the same command again (issue 26): the killed upload never shows as
// an object; the next run aborts it (and only uploads under its prefix), uploads the file, and announces every
// file exactly once across both runs.

import t from 'tap';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AbortMultipartUploadCommand, CreateMultipartUploadCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { singleChannel } from '../../fixtures/scenarios.js';
import { fakeFor, firstTarget, ofEvent, runDps, startCli } from '../cli/helpers.js';
import { keyOf, objectsUnder, uploadsIn, s3Args } from './objects.js';
import { bucketName, s3Server } from '../helpers/s3-server.js';

const s3 = await s3Server();
t.teardown(() => s3.stop());
const client = s3.client();
t.teardown(() => client.destroy());

t.test('kill -9 mid multipart upload, then resume: no partial object, the orphan aborted, each file once', async (t) => {
  // Files over one 5 MiB part; the first download stops sending after 5.8 MB (its first part is on its way).
  const fake = await fakeFor(t, {
    scenario: singleChannel({ seed: 64, messages: 3, imageRatio: 1, sizes: [6_000_000, 8_000_000] }),
    cdnStall: { count: 1, afterBytes: 5_800_000 },
  });
  const { G, C } = firstTarget(fake);
  const expected = [...fake.expected({ channelId: C })];
  t.ok(expected.length >= 3 && expected.every((a) => a.size > 5_800_000), `${expected.length} files over one part`);
  const bucket = await s3.createBucket(bucketName('kill'));
  // Uploads outside the prefix ("x/") must survive the sweep: another prefix, and one that only starts like it.
  const foreign: Array<{ Key: string; UploadId: string }> = [];
  for (const Key of ['other/keep.bin', 'x-sibling/keep.bin']) {
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key }));
    await client.send(new UploadPartCommand({ Bucket: bucket, Key, UploadId, PartNumber: 1, Body: 'x' }));
    foreign.push({ Key, UploadId: UploadId! });
  }
  t.teardown(async () => {
    for (const upload of foreign) await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, ...upload })).catch(() => undefined);
  });
  const dir = t.testdir();
  const args = s3Args(fake.api, G, C, `s3://${bucket}/x`, join(dir, 'state'), '--types', 'all');
  const env = { ...s3.env(), DISCORD_TOKEN: fake.token };

  const first = startCli(args, { env });
  let ours: string[] = [];
  for (let i = 0; i < 600 && ours.length === 0; i++) {
    ours = (await uploadsIn(client, bucket)).filter((key) => key.startsWith('x/'));
    if (ours.length === 0) await sleep(100);
  }
  t.equal(ours.length, 1, 'a multipart upload is in progress under the prefix');
  first.child.kill('SIGKILL');
  const killed = await first.done;
  t.equal(killed.signal, 'SIGKILL', 'the first run was killed');
  const partial = await objectsUnder(client, bucket, 'x/');
  t.notOk(
    [...partial.values()].some((o) => o.bytes.length === 5_800_000 || o.bytes.length < 5_800_000),
    'no partial object under a key',
  );

  const second = await runDps(args, { env });
  t.equal(second.code, 0, `the second run: exit 0 (stderr: ${second.stderr})`);
  t.match(second.stderr, /aborted 1 unfinished multipart upload\(s\) an interrupted run left under x\//, 'it says it aborted the orphan');
  t.same((await uploadsIn(client, bucket)).sort(), ['other/keep.bin', 'x-sibling/keep.bin'], 'only the uploads outside the prefix are left');
  const announced = [...killed.lines, ...second.lines].filter(ofEvent('saved')).map((l) => String(l.attachment_id));
  t.same(announced.sort(), expected.map((a) => a.attachment_id).sort(), 'every file announced exactly once across both runs');
  const objects = await objectsUnder(client, bucket, 'x/');
  t.equal(objects.size, expected.length, 'one object per file, nothing else');
  for (const line of [...killed.lines, ...second.lines].filter(ofEvent('saved'))) {
    const want = expected.find((a) => a.attachment_id === line.attachment_id)!;
    t.equal(objects.get(keyOf(bucket, line.path))?.sha256, want.sha256, `${String(line.filename)}: its object's bytes are right`);
  }
});
