// `dps --dry-run --out s3://` end to end (issue 26): the built CLI against the fake Discord and a real S3 server
// (Ceph RGW). The dry run only reads the bucket: no object written, a killed run's multipart upload left alone
// (the real run aborts it), its would_save paths the s3:// keys the real run then saves, one for one.

import t from 'tap';
import { CreateMultipartUploadCommand } from '@aws-sdk/client-s3';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { singleChannel } from '../../fixtures/scenarios.js';
import { fakeFor, ofEvent, runDps, schemaProblems } from '../cli/helpers.js';
import { objectsUnder, uploadsIn, s3Args } from './objects.js';
import { bucketName, s3Server } from '../helpers/s3-server.js';

const s3 = await s3Server();
t.teardown(() => s3.stop());
const client = s3.client();
t.teardown(() => client.destroy());

t.test('--dry-run with --out s3:// writes nothing, aborts nothing, and names the keys the real run uses', async (t) => {
  const fake = await fakeFor(t, { scenario: singleChannel({ seed: 12 }) });
  const bucket = await s3.createBucket(bucketName('dry'));
  await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'arch/left-by-a-killed-run.bin' }));
  const dir = t.testdir();
  const state = join(dir, 'state');
  const channel = fake.scenario.guilds[0]!.channels[0]!;
  const args = s3Args(fake.api, fake.scenario.guilds[0]!.id, channel.id, `s3://${bucket}/arch`, state);
  const env = { ...s3.env(), DISCORD_TOKEN: fake.token };

  const dry = await runDps([...args, '--dry-run'], { env });
  t.equal(dry.code, 0, `dry run exit 0 (stderr: ${dry.stderr})`);
  t.same(
    dry.lines.flatMap((line) => schemaProblems(line)),
    [],
    'every line as documented',
  );
  t.equal(dry.stderr.includes('NodeVersionSupportWarning'), false, 'no SDK warning on stderr');
  const would = dry.lines.filter(ofEvent('would_save'));
  t.ok(would.length > 0, `${would.length} files would be saved`);
  t.ok(
    would.every((l) => String(l.path).startsWith(`s3://${bucket}/arch/`)),
    'would_save paths are s3:// keys under the prefix',
  );
  t.same([...(await objectsUnder(client, bucket)).keys()], [], 'no object written');
  t.same(await uploadsIn(client, bucket), ['arch/left-by-a-killed-run.bin'], 'the unfinished upload is left alone');
  t.notOk(existsSync(state), 'no state created');

  const real = await runDps(args, { env });
  t.equal(real.code, 0, `real run exit 0 (stderr: ${real.stderr})`);
  const saved = real.lines.filter(ofEvent('saved'));
  t.same(
    saved.map((l) => `${String(l.attachment_id)} ${String(l.path)}`).sort(),
    would.map((l) => `${String(l.attachment_id)} ${String(l.path)}`).sort(),
    'the real run saves exactly what the dry run said, at the same keys',
  );
  t.same(await uploadsIn(client, bucket), [], 'the real run aborted the unfinished upload');

  // A second dry run after the real one: nothing left to save.
  const again = await runDps([...args, '--dry-run'], { env });
  t.equal(again.code, 0, `second dry run exit 0 (stderr: ${again.stderr})`);
  t.equal(again.lines.filter(ofEvent('would_save')).length, 0, 'nothing would be saved again');
});
