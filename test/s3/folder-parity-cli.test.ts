// Object storage keeps the local folder's guarantees (issue 26), end to end with the built CLI against the fake
// Discord and a real S3 server (Ceph RGW): every object carries its message's post time (x-amz-meta-mtime, a
// server-side copy its own post's, none with --no-mtime); a prefix emptied behind dps's back stops the next run
// before any Discord request (exit 1, one line), as a missing folder does; a key over S3's 1,024 bytes fails
// its file with `output_unwritable`, as a local name too long does.

import t from 'tap';
import type { Test } from 'tap';
import { DeleteObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { join } from 'node:path';
import type { FakeDiscord } from '../../fixtures/fake-discord.js';
import { singleChannel } from '../../fixtures/scenarios.js';
import { collect } from '../helpers/harness.js';
import { fakeFor, firstTarget, ofEvent, runDps, stderrLines } from '../cli/helpers.js';
import type { Line } from '../cli/helpers.js';
import { keyOf, objectsUnder, s3Args } from './objects.js';
import { bucketName, s3Server } from '../helpers/s3-server.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'; // this test's own client
const s3 = await s3Server();
t.teardown(() => s3.stop());
const client = s3.client();
t.teardown(() => client.destroy());

// 30 messages an hour apart, and re-posted bytes (original.png, then repost.png, copy1.png, copy2.png).
const scenario = () => singleChannel({ seed: 26, messages: 30, imageRatio: 0.5, sizes: [1_000, 8_000], spacingMs: 3_600_000, special: ['duplicates'] });

// The fake's own post time (ms) of every file, by message and attachment id.
async function postTimes(fake: FakeDiscord): Promise<Map<string, number>> {
  const { C } = firstTarget(fake);
  return new Map((await collect(fake.expected({ channelId: C }))).map((a) => [`${a.message_id}/${a.attachment_id}`, Date.parse(a.timestamp)]));
}

// x-amz-meta-mtime of the object at a saved event's path, or undefined.
async function mtimeOf(bucket: string, line: Line): Promise<string | undefined> {
  const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: keyOf(bucket, line.path) }));
  return head.Metadata?.mtime;
}

function scrape(t: Test, fake: FakeDiscord, out: string, state: string, ...extra: string[]) {
  const { G, C } = firstTarget(fake);
  return runDps(s3Args(fake.api, G, C, out, join(t.testdir(), state), ...extra), { env: { ...s3.env(), DISCORD_TOKEN: fake.token } });
}

t.test('file times: each object carries its own post time as x-amz-meta-mtime (a server-side copy too); none with --no-mtime', async (t) => {
  const fake = await fakeFor(t, { scenario: scenario() });
  const posts = await postTimes(fake);
  const bucket = await s3.createBucket(bucketName('mtime'));
  // One download at a time: a duplicate finds its first object and is copied server-side, not uploaded.
  const run = await scrape(t, fake, `s3://${bucket}/a`, 'state', '--s3-copy-duplicates', '--concurrency', '1');
  t.equal(run.code, 0, `exit 0 (stderr: ${run.stderr})`);
  const saved = run.lines.filter(ofEvent('saved'));
  const copies = saved.filter((l) => l.duplicate_of !== undefined && l.path !== l.duplicate_of);
  t.ok(saved.length > 8, `${saved.length} files saved`);
  t.ok(copies.length >= 3, `${copies.length} duplicates copied server-side`);
  const wrong: string[] = [];
  for (const line of saved) {
    const post = posts.get(`${String(line.message_id)}/${String(line.attachment_id)}`);
    const mtime = await mtimeOf(bucket, line);
    // rclone's convention: seconds since 1970, with a fractional part (here to the millisecond).
    if (post === undefined || mtime === undefined || !/^\d+\.\d{3}$/.test(mtime) || Math.round(Number(mtime) * 1000) !== post) {
      wrong.push(`${String(line.path)}: mtime ${String(mtime)}, post ${String(post)}`);
    }
  }
  t.same(wrong, [], 'every object (copies included) carries its own message post time');
  // The copies' posts differ from their first objects': a copy did not keep its source's time.
  const firstOf = new Map(saved.map((l) => [l.path, l]));
  const differing = copies.filter(
    (c) =>
      posts.get(`${String(c.message_id)}/${String(c.attachment_id)}`) !==
      posts.get(`${String(firstOf.get(c.duplicate_of)?.message_id)}/${String(firstOf.get(c.duplicate_of)?.attachment_id)}`),
  );
  t.ok(differing.length >= 1, `${differing.length} copies were posted at another time than their source`);

  const plain = await s3.createBucket(bucketName('nomtime'));
  const again = await scrape(t, fake, `s3://${plain}/a`, 'state2', '--no-mtime', '--s3-copy-duplicates', '--concurrency', '1');
  t.equal(again.code, 0, `exit 0 (stderr: ${again.stderr})`);
  const withTime: string[] = [];
  for (const line of again.lines.filter(ofEvent('saved'))) if ((await mtimeOf(plain, line)) !== undefined) withTime.push(String(line.path));
  t.same(withTime, [], '--no-mtime: no object carries an mtime');
});

t.test('an emptied prefix stops the next run before any Discord request (exit 1, one line); one object gone does not', async (t) => {
  const fake = await fakeFor(t, { scenario: scenario() });
  const bucket = await s3.createBucket(bucketName('emptied'));
  const dir = t.testdir();
  const out = `s3://${bucket}/keep`;
  const state = join(dir, 'state');
  const { G, C } = firstTarget(fake);
  const env = { ...s3.env(), DISCORD_TOKEN: fake.token };
  const run = (st = state) => runDps(s3Args(fake.api, G, C, out, st), { env });
  const first = await run();
  t.equal(first.code, 0, `exit 0 (stderr: ${first.stderr})`);
  const objects = [...(await objectsUnder(client, bucket, 'keep/')).keys()].sort();
  t.ok(objects.length > 8, `${objects.length} objects stored`);

  // One object deleted (the first in key order: the first the check looks for): not an emptied prefix.
  await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: objects[0]! }));
  const one = await run();
  t.equal(one.code, 0, `one object gone: exit 0 (stderr: ${one.stderr})`);

  for (const key of objects) await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  const before = fake.requests.length;
  const emptied = await run();
  t.equal(emptied.code, 1, `emptied prefix: exit 1 (stderr: ${emptied.stderr})`);
  const problems = stderrLines(emptied.stderr).filter((l) => !l.startsWith('note: '));
  t.equal(problems.length, 1, `one line: ${problems.join(' | ')}`);
  t.match(problems[0], new RegExp(`s3://${bucket}/keep/ is emptied or deleted.*s3://${bucket}/keep/.* is gone; put the objects back, or start over`));
  t.notMatch(emptied.stderr, /\n\s+at /, 'no stack trace');
  t.equal(fake.requests.length, before, 'no Discord request was made');
  t.same([...(await objectsUnder(client, bucket, 'keep/')).keys()], [], 'nothing was written');

  // Starting over with a fresh state stores everything again.
  const fresh = await run(join(dir, 'fresh-state'));
  t.equal(fresh.code, 0, `a fresh --state: exit 0 (stderr: ${fresh.stderr})`);
  t.equal((await objectsUnder(client, bucket, 'keep/')).size, objects.length, 'every object is stored again');
});

t.test('a key over 1,024 bytes fails its file with output_unwritable (as a local name too long), not s3_error', async (t) => {
  const fake = await fakeFor(t, { scenario: singleChannel({ seed: 27, messages: 6, imageRatio: 1, sizes: [500, 1_000] }) });
  const bucket = await s3.createBucket(bucketName('longkey'));
  // A prefix of 989 bytes: the preflight's probe key fits (1,019 bytes), every file's key does not.
  const prefix = Array.from({ length: 10 }, (_, i) => `${i}`.repeat(98)).join('/');
  t.equal(prefix.length, 989);
  const run = await scrape(t, fake, `s3://${bucket}/${prefix}`, 'state');
  t.equal(run.code, 1, `exit 1: some files failed (stderr: ${run.stderr})`);
  const failed = run.lines.filter(ofEvent('failed'));
  t.ok(failed.length >= 6, `${failed.length} files failed`);
  t.same([...new Set(failed.map((l) => l.reason))], ['output_unwritable'], 'every one with reason output_unwritable');
  t.match(String(failed[0]?.detail), /its key is \d+ bytes, over S3's limit of 1024/, 'the detail says why');
  t.equal(run.lines.filter(ofEvent('saved')).length, 0, 'nothing saved');
  t.same([...(await objectsUnder(client, bucket)).keys()], [], 'no object stored');
});
