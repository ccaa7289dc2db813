// A channel the state no longer holds leaves the gallery in the bucket too (issue 26): two channels archived to a
// real S3 server (Ceph RGW) and shown, then the state replaced by an older copy without one of them; the next
// `dps gallery --out s3://` deletes that channel's data object and the thumbnails only it showed, and nothing
// else: the other channel's site objects, every object outside prefix/gallery/ (the archive itself), objects a
// user put under gallery/ that the site never wrote, an object a user put at a key the site wrote (after the site
// wrote it), and what a hand-edited upload record names (keys outside gallery/, a user's object under it) are all
// left as they were.

import t from 'tap';
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { png } from '../helpers/images.js';
import { firstSaved, twoImageChannels } from '../cli/two-channels.js';
import { runDps, schemaProblems } from '../cli/helpers.js';
import type { Line } from '../cli/helpers.js';
import { bucketName, s3Server } from '../helpers/s3-server.js';
import { keyOf, objectsUnder, s3Args } from './objects.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'; // this test's own client
const s3 = await s3Server();
t.teardown(() => s3.stop());
const client = s3.client();
t.teardown(() => client.destroy());

const problems = (lines: Line[]): string[] => lines.flatMap((line) => schemaProblems(line).map((p) => `${JSON.stringify(line)}: ${p}`));
const thumb = (sha: unknown): string => `arch/gallery/thumbs/${String(sha).slice(0, 2)}/${String(sha)}.webp`;

t.test('dps gallery --out s3://: a channel the state no longer holds is deleted from the bucket, nothing else', async (t) => {
  const { fake, G, A, B } = await twoImageChannels(t, 93);
  const bucket = await s3.createBucket(bucketName('stale'));
  const dir = t.testdir();
  const state = join(dir, 'state');
  const out = `s3://${bucket}/arch`;
  const env = { ...s3.env(), DISCORD_TOKEN: fake.token };
  const gallery = () => runDps(['gallery', '--out', out, '--state', state, '--s3-force-path-style'], { env });
  // A channel's first `count` images replaced by real pictures (the fake's bytes are not images).
  const pictures = async (channel: string, count: number, seed: number): Promise<Line[]> => {
    const chosen = await firstSaved(state, channel, count);
    for (const [i, r] of chosen.entries())
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: keyOf(bucket, r.path), Body: await png(seed + i, 300, 200) }));
    return chosen;
  };

  // alpha archived and shown, the state copied (the older copy), then beta archived and both shown.
  t.equal((await runDps(s3Args(fake.api, G, A, out, state), { env })).code, 0, 'alpha archived');
  const alphaPics = await pictures(A, 2, 800);
  t.equal((await gallery()).code, 0, 'gallery of alpha');
  cpSync(state, join(dir, 'state-alpha'), { recursive: true });
  t.equal((await runDps(s3Args(fake.api, G, B, out, state), { env })).code, 0, 'beta archived');
  const betaPics = await pictures(B, 3, 810);
  // Objects the site never writes: beside it, under it with its own kinds of names, outside the prefix.
  const foreign = [
    'arch/gallery/notes.txt',
    'arch/gallery/data/c-123456789012345678.js',
    `arch/gallery/thumbs/00/${'0'.repeat(64)}.webp`,
    'arch/keep-me.txt',
    'other/gallery/data/c-1.js',
  ];
  for (const key of foreign) await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: `user object ${key}` }));
  const both = await gallery();
  t.equal(both.code, 0, `gallery of both exit 0 (stderr: ${both.stderr})`);
  t.match(both.lines.at(-1), { command: 'gallery', channels: 1, channels_removed: 0, thumbnails_made: 3, deleted: 0 });
  const before = await objectsUnder(client, bucket);
  const betaThumbs = betaPics.map((r) => thumb(r.sha256));
  for (const key of [`arch/gallery/data/c-${A}.js`, `arch/gallery/data/c-${B}.js`, ...alphaPics.map((r) => thumb(r.sha256)), ...betaThumbs])
    t.ok(before.has(key), `${key} uploaded`);

  // A user's object at a key the site wrote (one of beta's thumbnails), and an upload record edited to name keys
  // outside gallery/ (the staging folder: <state>.s3-gallery/<bucket>/arch/gallery/.uploaded.json).
  const overwritten = betaThumbs[0]!;
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: overwritten, Body: 'a user put this here' }));
  const recordFile = join(`${state}.s3-gallery`, bucket, 'arch', 'gallery', '.uploaded.json');
  const record = JSON.parse(readFileSync(recordFile, 'utf8')) as Record<string, string>;
  const notesEtag = (await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'arch/gallery/notes.txt' }))).ETag;
  const edited = {
    '../keep-me.txt': 'x',
    'data/../../keep-me.txt': 'x',
    '': 'x',
    '/arch/keep-me.txt': 'x',
    'notes.txt': `x ${notesEtag}`, // its true ETag, but not a name the site writes
    'data/c-123456789012345678.js': 'x', // a name the site writes, but no ETag it was given
  };
  writeFileSync(recordFile, JSON.stringify({ ...record, ...edited }));
  const planted = await objectsUnder(client, bucket);

  // The older state comes back: beta is not in it.
  rmSync(state, { recursive: true });
  cpSync(join(dir, 'state-alpha'), state, { recursive: true });
  const again = await gallery();
  t.equal(again.code, 0, `gallery exit 0 (stderr: ${again.stderr})`);
  t.same(problems(again.lines), [], 'every line as documented');
  t.match(again.lines.at(-1), { command: 'gallery', channels: 0, channels_unchanged: 1, channels_removed: 1, thumbnails_made: 0 });
  t.equal(again.lines.at(-1)?.deleted, 1 + betaThumbs.length - 1, "beta's data object and its thumbnails but the user's");
  const after = await objectsUnder(client, bucket);
  t.notOk(after.has(`arch/gallery/data/c-${B}.js`), "beta's data object is deleted");
  for (const key of betaThumbs.slice(1)) t.notOk(after.has(key), `${key} (beta's only) is deleted`);
  t.equal(after.get(overwritten)?.bytes.toString(), 'a user put this here', "the user's object at a site key is left");
  const changed = [...planted].filter(([key, o]) => after.get(key)?.sha256 !== o.sha256).map(([key]) => key);
  t.same(
    changed.sort(),
    ['arch/gallery/data/index.js', `arch/gallery/data/c-${B}.js`, ...betaThumbs.slice(1)].sort(),
    'nothing else changed: alpha, the page, the archive, the foreign objects',
  );
  t.same(
    [...after.keys()].filter((key) => !planted.has(key)),
    [],
    'nothing new',
  );
  for (const key of foreign) t.equal(after.get(key)?.bytes.toString(), `user object ${key}`, `${key} left`);
  t.notMatch(after.get('arch/gallery/data/index.js')?.bytes.toString(), new RegExp(B), 'beta is out of the index');
  t.same(
    Object.keys(JSON.parse(readFileSync(recordFile, 'utf8')) as object).filter((name) => name in edited),
    [],
    'the edited entries leave the record',
  );

  const third = await gallery();
  t.match(third.lines.at(-1), { channels_removed: 0, uploaded: 0, deleted: 0 }, 'a third run uploads and deletes nothing');
});
