// A full S3 quota is reported like a full disk (issue 26): the run stops at once (exit 1), its line and the
// summary's error say it is the S3 quota, nothing partial is left, and once the quota is raised the same command
// completes the archive.

import t from 'tap';
import { join } from 'node:path';
import { singleChannel } from '../../fixtures/scenarios.js';
import { fakeFor, firstTarget, ofEvent, runDps } from '../cli/helpers.js';
import { bucketName, s3Server } from '../helpers/s3-server.js';
import { keyOf, objectsUnder, uploadsIn, s3Args } from './objects.js';

const s3 = await s3Server();
t.teardown(() => s3.stop());
const client = s3.client();
t.teardown(() => client.destroy());

t.test('a bucket quota too small stops the run like a full disk; a raised quota lets it finish', async (t) => {
  const fake = await fakeFor(t, { scenario: singleChannel({ seed: 65, messages: 20, imageRatio: 1, sizes: [20_000, 40_000] }) });
  const { G, C } = firstTarget(fake);
  const bucket = await s3.createBucket(bucketName('quota'));
  await s3.admin(['quota', 'set', '--quota-scope=bucket', `--bucket=${bucket}`, '--max-size=50K']);
  await s3.admin(['quota', 'enable', '--quota-scope=bucket', `--bucket=${bucket}`]);
  const dir = t.testdir();
  const args = s3Args(fake.api, G, C, `s3://${bucket}/q`, join(dir, 'state'));
  const env = { ...s3.env(), DISCORD_TOKEN: fake.token };
  const full = await runDps(args, { env });
  t.equal(full.code, 1, `exit 1 (stderr: ${full.stderr})`);
  t.match(full.stderr, /stopped: S3 quota exceeded in s3:\/\//, 'stderr says the S3 quota is full');
  const summary = full.lines.find(ofEvent('summary'));
  t.match(String(summary?.error), /S3 quota exceeded/, "the summary's error says so");
  t.equal(full.lines.filter(ofEvent('failed')).length, 0, 'no file is blamed for it');
  t.same(await uploadsIn(client, bucket), [], 'no upload left');

  await s3.admin(['quota', 'disable', '--quota-scope=bucket', `--bucket=${bucket}`]);
  const again = await runDps(args, { env });
  t.equal(again.code, 0, `after the quota is raised: exit 0 (stderr: ${again.stderr})`);
  const saved = [...full.lines, ...again.lines].filter(ofEvent('saved'));
  const expected = [...fake.expected({ channelId: C })];
  t.same(saved.map((l) => String(l.attachment_id)).sort(), expected.map((a) => a.attachment_id).sort(), 'every file announced once across both runs');
  const objects = await objectsUnder(client, bucket);
  const byId = new Map(expected.map((a) => [a.attachment_id, a.sha256]));
  t.same(
    saved.filter((l) => objects.get(keyOf(bucket, l.path))?.sha256 !== byId.get(String(l.attachment_id))),
    [],
    'each object holds its bytes',
  );
});
