// `dps --out s3://bucket/prefix` end to end (issue 26): the built CLI against the fake Discord and a real S3 server
// (Ceph RGW). A full archive compared object by object with the fake's files, an incremental run, `dps manifest`,
// the key layout against a local run's, duplicates (duplicate_of, --s3-copy-duplicates), hostile names as keys.

import t from 'tap';
import type { Test } from 'tap';
import { createHash } from 'node:crypto';
import { join, relative } from 'node:path';
import { singleChannel } from '../../fixtures/scenarios.js';
import { collect } from '../helpers/harness.js';
import { fakeFor, firstTarget, ofEvent, rawLines, runDps, schemaProblems } from '../cli/helpers.js';
import type { Line } from '../cli/helpers.js';
import { keyOf, objectsUnder, uploadsIn, s3Args } from './objects.js';
import { bucketName, s3Server } from '../helpers/s3-server.js';

const s3 = await s3Server();
t.teardown(() => s3.stop());
const client = s3.client();
t.teardown(() => client.destroy());

const isPhoto = (a: { content_type?: string | undefined; filename: string }): boolean =>
  a.content_type ? /^image\/(png|jpe?g|gif|webp)$/.test(a.content_type) : /\.(png|jpe?g|gif|webp)$/i.test(a.filename);

function documented(t: Test, stdout: string): void {
  const problems = rawLines(stdout).flatMap((line, i) => schemaProblems(line).map((p) => `line ${i + 1}: ${p}`));
  t.same(problems, [], 'every stdout line is a documented NDJSON event');
}

t.test('the demo server archived to a bucket: every object checked by sha256, stored once; an incremental run adds nothing', async (t) => {
  const fake = await fakeFor(t, {});
  const bucket = await s3.createBucket(bucketName('full'));
  const dir = t.testdir();
  const guild = fake.scenario.guilds[0]!;
  const args = s3Args(fake.api, guild.id, undefined, `s3://${bucket}/archive/`, join(dir, 'state'));
  const env = { ...s3.env(), DISCORD_TOKEN: fake.token };
  const run = await runDps(args, { env });
  t.equal(run.code, 0, `exit 0 (stderr: ${run.stderr})`);
  documented(t, run.stdout);
  const saved = run.lines.filter(ofEvent('saved'));
  const archived = new Set(run.lines.filter(ofEvent('channel_done')).map((l) => l.channel_id));
  const expected = (await collect(fake.expected({ guildId: guild.id }))).filter((a) => isPhoto(a) && archived.has(a.channel_id));
  t.same(saved.map((l) => l.attachment_id).sort(), expected.map((a) => a.attachment_id).sort(), 'every photo of the server is announced once');

  const objects = await objectsUnder(client, bucket);
  const byId = new Map(expected.map((a) => [a.attachment_id, a]));
  const bad = saved.filter(
    (line) =>
      objects.get(keyOf(bucket, line.path))?.sha256 !== byId.get(String(line.attachment_id))?.sha256 ||
      line.sha256 !== byId.get(String(line.attachment_id))?.sha256,
  );
  t.same(bad, [], "each saved file's object holds the fake's bytes (sha256)");
  const ownPaths = new Set(saved.filter((l) => l.duplicate_of === undefined || l.path !== l.duplicate_of).map((l) => keyOf(bucket, l.path)));
  t.same([...objects.keys()].sort(), [...ownPaths].sort(), 'the bucket holds exactly the saved objects, nothing else (no probe, no part)');
  t.ok(
    [...objects.keys()].every((k) => k.startsWith('archive/')),
    'every key is under the prefix',
  );
  t.equal(new Set([...objects.values()].map((o) => o.sha256)).size, objects.size, 'each content is stored once');
  t.ok(
    saved.some((l) => l.duplicate_of !== undefined),
    'the demo server has duplicates',
  );
  t.same(await uploadsIn(client, bucket), [], 'no multipart upload left');
  t.notOk(
    [...objects].some(([key, o]) => key.includes(fake.token) || o.bytes.includes(fake.token)),
    'the token is in no key and no object',
  );
  t.notOk(
    run.stdout.includes('SKTEST') || run.stderr.includes('SKTEST') || run.stdout.includes(s3.env().AWS_SECRET_ACCESS_KEY!),
    'the S3 secret is in no output',
  );

  const again = await runDps(args, { env });
  t.equal(again.code, 0, `incremental run: exit 0 (stderr: ${again.stderr})`);
  t.equal(again.lines.filter(ofEvent('saved')).length, 0, 'incremental run: nothing announced again');
  const after = await objectsUnder(client, bucket);
  t.same([...after.keys()].sort(), [...objects.keys()].sort(), 'incremental run: the same objects');

  const manifest = await runDps(['manifest', '--state', join(dir, 'state')], { env });
  t.equal(manifest.code, 0, 'dps manifest: exit 0');
  const records = manifest.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Line);
  t.ok(records.length >= saved.length && records.every((r) => String(r.path).startsWith(`s3://${bucket}/archive/`)), 'dps manifest prints s3:// paths');
});

t.test('keys below the prefix are the local layout, hostile names included', async (t) => {
  const fake = await fakeFor(t, {
    scenario: singleChannel({ seed: 61, messages: 30, imageRatio: 0.5, sizes: [500, 3_000], special: ['hostile', 'duplicates'] }),
  });
  const { G, C } = firstTarget(fake);
  const bucket = await s3.createBucket(bucketName('layout'));
  const dir = t.testdir();
  const env = { ...s3.env(), DISCORD_TOKEN: fake.token };
  const common = ['--server-id', G, '--channel-id', C, '--api', fake.api, '--types', 'all', '--path-pattern', '{guild}/{channel}/{year}', '--concurrency', '1'];
  const local = await runDps([...common, '--out', join(dir, 'out'), '--state', join(dir, 'state-local')], { env });
  t.equal(local.code, 0, `local run: exit 0 (stderr: ${local.stderr})`);
  const remote = await runDps([...common, '--out', `s3://${bucket}/p/q`, '--state', join(dir, 'state-s3'), '--s3-force-path-style'], { env });
  t.equal(remote.code, 0, `S3 run: exit 0 (stderr: ${remote.stderr})`);
  documented(t, remote.stdout);
  // Bytes posted more than once: which post is stored first can differ between two runs; the others compare.
  const counts = new Map<unknown, number>();
  for (const l of local.lines.filter(ofEvent('saved'))) counts.set(l.sha256, (counts.get(l.sha256) ?? 0) + 1);
  const unique = (l: Line): boolean => counts.get(l.sha256) === 1;
  const files = local.lines
    .filter(ofEvent('saved'))
    .filter(unique)
    .map((l) => relative(join(dir, 'out'), String(l.path)))
    .sort();
  const objects = await objectsUnder(client, bucket);
  const keys = remote.lines
    .filter(ofEvent('saved'))
    .filter(unique)
    .map((l) => keyOf(bucket, l.path).slice('p/q/'.length))
    .sort();
  t.same(keys, files, 'the same names as the folder, under the prefix');
  t.ok(
    keys.every((k) => objects.has(`p/q/${k}`)),
    'each is an object',
  );
  const hostile = remote.lines.filter(ofEvent('saved')).filter((l) => /[^\w.\-/ ]/.test(String(l.filename)));
  t.ok(hostile.length > 0, `hostile names were archived (${hostile.length})`);
  const byId = new Map([...fake.expected()].map((a) => [a.attachment_id, a.sha256]));
  for (const line of remote.lines.filter(ofEvent('saved'))) {
    const object = objects.get(keyOf(bucket, line.path));
    const want = byId.get(String(line.attachment_id));
    t.equal(object ? createHash('sha256').update(object.bytes).digest('hex') : undefined, want, `${JSON.stringify(line.filename)}: its object holds its bytes`);
  }
});

t.test('duplicates: no second object by default (duplicate_of), a server-side copy with --s3-copy-duplicates', async (t) => {
  const scenario = () => singleChannel({ seed: 62, messages: 30, imageRatio: 0.3, sizes: [500, 3_000], special: ['duplicates'] });
  for (const copy of [false, true]) {
    const fake = await fakeFor(t, { scenario: scenario() });
    const { G, C } = firstTarget(fake);
    const bucket = await s3.createBucket(bucketName(copy ? 'copies' : 'dups'));
    const dir = t.testdir();
    const args = s3Args(fake.api, G, C, `s3://${bucket}/x`, join(dir, 'state'));
    const run = await runDps(copy ? [...args, '--s3-copy-duplicates'] : args, { env: { ...s3.env(), DISCORD_TOKEN: fake.token } });
    t.equal(run.code, 0, `exit 0 (stderr: ${run.stderr})`);
    documented(t, run.stdout);
    const saved = run.lines.filter(ofEvent('saved'));
    const dups = saved.filter((l) => l.duplicate_of !== undefined);
    t.ok(dups.length >= 2, `${dups.length} duplicates announced`);
    const objects = await objectsUnder(client, bucket);
    for (const dup of dups) {
      const first = objects.get(keyOf(bucket, dup.duplicate_of));
      t.equal(first?.sha256, dup.sha256, 'duplicate_of names an object with the same bytes');
      if (copy) {
        t.not(dup.path, dup.duplicate_of, '--s3-copy-duplicates: its own key');
        t.equal(objects.get(keyOf(bucket, dup.path))?.sha256, dup.sha256, '--s3-copy-duplicates: its own object holds the bytes');
      } else t.equal(dup.path, dup.duplicate_of, 'by default its path is the first copy');
    }
    const distinct = new Set(saved.map((l) => l.sha256)).size;
    t.equal(objects.size, copy ? saved.length : distinct, copy ? 'one object per file' : 'one object per distinct content');
  }
});
