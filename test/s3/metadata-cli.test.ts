// `--write-metadata` with `--out s3://` end to end (issue 26): the built CLI against the fake Discord and a real
// S3 server (Ceph RGW). Each owned file gets a complete `<key>.json` object naming it; an object already at a
// sidecar's name that dps did not write is left as it is. `=channel`: metadata-channel-cli.test.ts.

import t from 'tap';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { join } from 'node:path';
import { singleChannel } from '../../fixtures/scenarios.js';
import { fakeFor, ofEvent, runDps } from '../cli/helpers.js';
import { keyOf, objectsUnder, s3Args } from './objects.js';
import { bucketName, s3Server } from '../helpers/s3-server.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'; // this test's own client
const s3 = await s3Server();
t.teardown(() => s3.stop());
const client = s3.client();
t.teardown(() => client.destroy());

t.test('--write-metadata with s3://: a sidecar object per owned file, a foreign object never replaced', async (t) => {
  const fake = await fakeFor(t, { scenario: singleChannel({ seed: 31, messages: 20, imageRatio: 0.6, sizes: [500, 3_000], special: ['duplicates'] }) });
  const guild = fake.scenario.guilds[0]!;
  const env = { ...s3.env(), DISCORD_TOKEN: fake.token };
  const dir = t.testdir();
  const args = (bucket: string, state: string): string[] => s3Args(fake.api, guild.id, undefined, `s3://${bucket}/m`, join(dir, state), '--write-metadata');

  const first = await s3.createBucket(bucketName('meta'));
  const run = await runDps(args(first, 'state1'), { env });
  t.equal(run.code, 0, `exit 0 (stderr: ${run.stderr})`);
  t.notMatch(run.stderr, /NodeVersionSupportWarning/, 'no SDK warning on stderr');
  const owned = run.lines.filter(ofEvent('saved')).filter((l) => l.duplicate_of === undefined || l.path !== l.duplicate_of);
  t.ok(owned.length > 3, `${owned.length} owned files`);
  const objects = await objectsUnder(client, first);
  const sidecars = [...objects.keys()].filter((k) => k.endsWith('.json'));
  t.equal(sidecars.length, owned.length, 'one sidecar object per owned file (none for a duplicate without its own object)');
  for (const line of owned) {
    const sidecar = objects.get(`${keyOf(first, line.path)}.json`);
    const json = sidecar === undefined ? undefined : (JSON.parse(sidecar.bytes.toString('utf8')) as Record<string, unknown>);
    t.match(json, { attachment_id: line.attachment_id, message_id: line.message_id, path: line.path, sha256: line.sha256 }, `${String(line.path)}.json`);
  }

  // The same archive into another bucket where a foreign object holds one sidecar's name.
  const second = await s3.createBucket(bucketName('meta'));
  const taken = sidecars[0]!;
  await client.send(new PutObjectCommand({ Bucket: second, Key: taken, Body: 'not dps' }));
  const again = await runDps(args(second, 'state2'), { env });
  t.equal(again.code, 0, `exit 0 (stderr: ${again.stderr})`);
  t.match(again.stderr, /metadata: .* not written: a file that dps did not write is there/, 'it says so');
  const after = await objectsUnder(client, second);
  t.equal(after.get(taken)?.bytes.toString('utf8'), 'not dps', 'the foreign object is intact');
  t.equal([...after.keys()].filter((k) => k.endsWith('.json')).length, sidecars.length, 'the other sidecars are written');
});
