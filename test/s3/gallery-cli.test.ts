// `dps gallery` and `dps scrape --gallery` with `--out s3://` end to end (issue 26): the built CLI against the fake
// Discord and a real S3 server (Ceph RGW). The site lands under prefix/gallery/, thumbnails made from the objects'
// bytes, every link from a channel's data resolving (relative, like on disk) to an archived object; a second run
// makes no thumbnail and uploads only what changed; a local --gallery-dir is refused.

import t from 'tap';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { join, posix } from 'node:path';
import { runInNewContext } from 'node:vm';
import { demoScenario } from '../../fixtures/scenarios.js';
import { png } from '../helpers/images.js';
import { fakeFor, ofEvent, runDps, schemaProblems } from '../cli/helpers.js';
import type { Line } from '../cli/helpers.js';
import { keyOf, objectsUnder } from './objects.js';
import { bucketName, s3Server } from '../helpers/s3-server.js';

const s3 = await s3Server();
t.teardown(() => s3.stop());
const client = s3.client();
t.teardown(() => client.destroy());

const problems = (lines: Line[]): string[] => lines.flatMap((line) => schemaProblems(line));

// Each channel's file links (data version 3: folders + names), as the page builds them, relative to gallery/.
function links(objects: Map<string, { bytes: Buffer }>, site: string): string[] {
  const found: string[] = [];
  let index: { servers: Array<{ channels: Array<{ data: string }> }> } | undefined;
  const window = {
    dpsGallery: {
      index: (d: typeof index) => (index = d),
      channel: (_id: string, d: { folders: string[]; items: { fd: number[]; n: string[] } }) => {
        for (const [i, name] of d.items.n.entries()) found.push(`${d.folders[d.items.fd[i]!]}/${encodeURIComponent(name)}`);
      },
    },
  };
  runInNewContext(objects.get(`${site}/data/index.js`)!.bytes.toString('utf8'), { window });
  for (const server of index!.servers)
    for (const channel of server.channels) runInNewContext(objects.get(`${site}/${channel.data}`)!.bytes.toString('utf8'), { window });
  return found;
}

t.test('dps scrape --gallery and dps gallery with --out s3://: the site under prefix/gallery/, linking the objects', async (t) => {
  const fake = await fakeFor(t, { scenario: demoScenario() });
  const guild = fake.scenario.guilds[0]!;
  const bucket = await s3.createBucket(bucketName('gallery'));
  const dir = t.testdir();
  const state = join(dir, 'state');
  const out = `s3://${bucket}/arch`;
  const env = { ...s3.env(), DISCORD_TOKEN: fake.token };
  const s3Args = ['--out', out, '--state', state, '--s3-force-path-style'];

  const scrape = await runDps(['--server-id', guild.id, '--all-channels', '--api', fake.api, ...s3Args], { env });
  t.equal(scrape.code, 0, `scrape exit 0 (stderr: ${scrape.stderr})`);

  // Real pictures in place of three archived images (the fake's bytes are not images).
  const manifest = await runDps(['manifest', '--state', state]);
  const records = manifest.lines.filter((r) => r.status === 'saved');
  const images = records.filter((r) => String(r.content_type).startsWith('image/') && r.duplicate_of === undefined).slice(0, 3);
  t.equal(images.length, 3, 'three distinct images archived');
  for (const [i, record] of images.entries()) {
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: keyOf(bucket, record.path), Body: await png(500 + i, 300, 200) }));
  }
  const real = new Set(images.map((r) => String(r.sha256)));

  const gallery = await runDps(['gallery', ...s3Args], { env });
  t.equal(gallery.code, 0, `gallery exit 0 (stderr: ${gallery.stderr})`);
  t.same(problems(gallery.lines), [], 'every line as documented');
  t.equal(gallery.stderr.includes('NodeVersionSupportWarning'), false, 'no SDK warning on stderr');
  const summary = gallery.lines.at(-1)!;
  t.match(summary, { event: 'summary', command: 'gallery', thumbnails_made: 3, gallery: `${out}/gallery/index.html` });
  for (const warning of gallery.lines.filter(ofEvent('warning'))) t.match(warning.path, /^s3:\/\//, 'a warning names the object');

  const objects = await objectsUnder(client, bucket);
  for (const name of ['index.html', 'data/index.js']) t.ok(objects.has(`arch/gallery/${name}`), `arch/gallery/${name} in the bucket`);
  const thumbs = [...objects.keys()].filter((k) => k.startsWith('arch/gallery/thumbs/')).sort();
  t.same(thumbs, [...real].map((sha) => `arch/gallery/thumbs/${sha.slice(0, 2)}/${sha}.webp`).sort(), 'a thumbnail per real picture');
  t.notOk(
    [...objects.keys()].some((k) => k.includes('.fetch') || k.includes('.uploaded') || k.endsWith('.tmp')),
    'no staging file uploaded',
  );

  // Every file link, resolved from gallery/ the way a browser does, is an archived object.
  const found = links(objects, 'arch/gallery');
  t.equal(found.length, records.length, 'every saved file listed');
  const dangling = found.filter((link) => {
    const key = posix.normalize(posix.join('arch/gallery', ...link.split('/').map(decodeURIComponent)));
    return !objects.has(key);
  });
  t.same(dangling, [], 'every link resolves to an object');
  t.ok(
    found.every((link) => link.startsWith('../')),
    'links are relative',
  );

  // An incremental scrape --gallery with nothing new: nothing to decode, no site file changed, nothing uploaded.
  const again = await runDps(['--server-id', guild.id, '--all-channels', '--api', fake.api, ...s3Args, '--gallery'], { env });
  t.equal(again.code, 0, `scrape --gallery exit 0 (stderr: ${again.stderr})`);
  t.same(problems(again.lines), [], 'every line as documented');
  t.equal(again.stderr.includes('NodeVersionSupportWarning'), false, 'no SDK warning on stderr');
  const last = again.lines.filter((l) => l.command === 'gallery').at(-1);
  t.match(last, { event: 'summary', command: 'gallery', thumbnails_made: 0, thumbnails_kept: 3, gallery: `${out}/gallery/index.html`, exit_code: 0 });
  t.equal(last?.uploaded, 0, 'no site file uploaded again');
});

t.test('--gallery-dir with --out s3:// is a usage error', async (t) => {
  const dir = t.testdir();
  const env = s3.env();
  const local = await runDps(['gallery', '--state', join(dir, 'state'), '--out', 's3://some-bucket/p', '--gallery-dir', join(dir, 'g')], { env });
  t.equal(local.code, 2, 'exit 2');
  t.match(local.stderr, /--gallery-dir .*cannot go to a local folder/);
  t.equal(local.stderr.trim().split('\n').length, 1, 'one line');
  const scrape = await runDps(['--server-id', '1', '--all-channels', '--out', 's3://some-bucket/p', '--gallery', '--gallery-dir', join(dir, 'g')], {
    env: { ...env, DISCORD_TOKEN: 'x' },
  });
  t.equal(scrape.code, 2, 'scrape --gallery --gallery-dir: exit 2');
  const endpoint = await runDps(['gallery', '--state', join(dir, 'state'), '--out', join(dir, 'o'), '--s3-force-path-style'], { env });
  t.equal(endpoint.code, 2, 'an --s3 flag without s3:// out: exit 2');
});
