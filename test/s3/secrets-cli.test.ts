// The Discord token goes to the configured Discord API and nowhere else (issue 26): the built CLI archives to a
// real S3 server (Ceph RGW) through a recording proxy (fixtures/s3-proxy.ts), with --write-metadata, --gallery,
// `dps gallery`, a run whose uploads are refused and one with wrong credentials; no request the storage service
// receives (method, path, any header, any body byte) holds the token, in clear, base64, base64url, URL-encoded or
// hex, nor its secret last part alone. And the S3 secret key (AWS_SECRET_ACCESS_KEY) is in none of dps's stdout or
// stderr, its state folder, the gallery's staging folder, any stored object or any request (SigV4 never sends it).

import t from 'tap';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { cp, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { startS3Proxy } from '../../fixtures/s3-proxy.js';
import type { RecordedRequest } from '../../fixtures/s3-proxy.js';
import { singleChannel } from '../../fixtures/scenarios.js';
import { png } from '../helpers/images.js';
import { fakeFor, firstTarget, ofEvent, runDps } from '../cli/helpers.js';
import type { Finished } from '../cli/helpers.js';
import { bucketName, s3Server } from '../helpers/s3-server.js';
import { keyOf, objectsUnder, s3Args } from './objects.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'; // this test's own client
const s3 = await s3Server();
t.teardown(() => s3.stop());
const client = s3.client();
t.teardown(() => client.destroy());

// The forms a secret could travel in: as is, base64 (standard and URL-safe, with and without padding),
// URL-encoded (both ways a client encodes), hex, and (for a Discord token, `<id>.<time>.<hmac>`) its last part.
function secretForms(secret: string): string[] {
  const bytes = Buffer.from(secret, 'utf8');
  const forms = [
    secret,
    bytes.toString('base64'),
    bytes.toString('base64').replace(/=+$/, ''),
    bytes.toString('base64url'),
    encodeURIComponent(secret),
    encodeURIComponent(secret).toLowerCase(),
    new URLSearchParams({ s: secret }).toString().slice(2),
    bytes.toString('hex'),
  ];
  const last = secret.split('.').at(-1) ?? '';
  if (last.length >= 16 && last !== secret) forms.push(last);
  return [...new Set(forms)];
}

// Where in `haystacks` (name -> bytes) any form of `secret` appears: "name: form".
function leaks(secret: string, haystacks: Iterable<[string, Buffer]>): string[] {
  const forms = secretForms(secret);
  const found: string[] = [];
  for (const [name, bytes] of haystacks) for (const form of forms) if (bytes.includes(form)) found.push(`${name}: ${form}`);
  return found;
}

// A recorded request as the bytes of its request line, headers and body.
function requestBytes(request: RecordedRequest): Buffer {
  const head = [`${request.method} ${request.path}`];
  for (let i = 0; i < request.rawHeaders.length; i += 2) head.push(`${request.rawHeaders[i]}: ${request.rawHeaders[i + 1]}`);
  return Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`), request.body]);
}

// Every file under `dir` (recursively) by path, raw bytes.
async function filesUnder(dir: string): Promise<Array<[string, Buffer]>> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
  return Promise.all(files.map(async (file): Promise<[string, Buffer]> => [file, await readFile(file)]));
}

// Every key and value of a LevelDB state (its blocks may be compressed on disk), read from a copy.
async function stateEntries(state: string): Promise<Array<[string, Buffer]>> {
  const copy = await mkdtemp(join(tmpdir(), 'dps-secrets-'));
  try {
    await cp(state, copy, { recursive: true });
    await rm(join(copy, 'LOCK'), { force: true });
    const db = new Level<string, string>(copy, { keyEncoding: 'utf8', valueEncoding: 'utf8', createIfMissing: false });
    await db.open();
    const entries: Array<[string, Buffer]> = [];
    for await (const [k, v] of db.iterator()) entries.push([`state key ${k}`, Buffer.from(`${k}\n${v}`)]);
    await db.close();
    return entries;
  } finally {
    await rm(copy, { recursive: true, force: true });
  }
}

t.test('the forms searched are found where they are', async (t) => {
  const token = 'MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe.x+y/z=0123456789abcdefghijklmnopqrstuv';
  const forms = secretForms(token);
  t.ok(forms.includes('x+y/z=0123456789abcdefghijklmnopqrstuv'), 'the last part alone');
  t.ok(forms.includes(encodeURIComponent(token)), 'URL-encoded');
  for (const form of forms) t.ok(leaks(token, [['x', Buffer.from(`<a>${form}</a>`)]]).includes(`x: ${form}`), `found as ${form}`);
  t.same(leaks(token, [['x', Buffer.from('nothing here')]]), [], 'nothing where nothing is');
});

t.test('the Discord token never reaches S3; the S3 secret is never printed, stored or sent', async (t) => {
  const fake = await fakeFor(t, {
    scenario: singleChannel({ seed: 77, messages: 16, imageRatio: 0.7, sizes: [800, 6_000], special: ['duplicates'] }),
  });
  const { G, C } = firstTarget(fake);
  const bucket = await s3.createBucket(bucketName('secrets'));
  const proxy = await startS3Proxy(s3.endpoint, { record: true });
  t.teardown(() => proxy.close());
  const dir = t.testdir();
  const state = join(dir, 'state');
  const out = `s3://${bucket}/arch`;
  const secret = s3.env().AWS_SECRET_ACCESS_KEY!;
  const env: Record<string, string> = { ...s3.env(), AWS_ENDPOINT_URL_S3: proxy.endpoint, DISCORD_TOKEN: fake.token };
  const runs: Array<[string, Finished]> = [];
  const run = async (name: string, args: string[], runEnv = env): Promise<Finished> => {
    const done = await runDps(args, { env: runEnv });
    runs.push([name, done]);
    return done;
  };

  // A full archive with sidecars and duplicates copied to their own keys (one download at a time: a duplicate then
  // always finds its first copy stored, and is copied server-side).
  const first = await run('scrape', s3Args(fake.api, G, C, out, state, '--types', 'all', '--write-metadata', '--s3-copy-duplicates', '--concurrency', '1'));
  t.equal(first.code, 0, `scrape exit 0 (stderr: ${first.stderr})`);
  const saved = first.lines.filter(ofEvent('saved'));
  t.ok(saved.length > 5, `${saved.length} files saved`);
  // Real pictures for two images, so the gallery makes thumbnails and uploads them.
  const images = saved.filter((l) => String(l.content_type).startsWith('image/') && l.duplicate_of === undefined).slice(0, 2);
  for (const [i, line] of images.entries())
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: keyOf(bucket, line.path), Body: await png(400 + i, 300, 200) }));

  // New messages, archived with --gallery and --write-metadata; then dps gallery on its own.
  fake.postMessage(C, { attachments: 2 });
  const second = await run('scrape --gallery', s3Args(fake.api, G, C, out, state, '--types', 'all', '--write-metadata', '--gallery'));
  t.equal(second.code, 0, `scrape --gallery exit 0 (stderr: ${second.stderr})`);
  t.match(second.lines.at(-1), { command: 'gallery', thumbnails_made: 2 });
  const gallery = await run('gallery', ['gallery', '--out', out, '--state', state, '--s3-force-path-style']);
  t.equal(gallery.code, 0, `gallery exit 0 (stderr: ${gallery.stderr})`);

  // Uploads refused (a full quota stops the run: its error line and summary), then wrong credentials (exit 3).
  fake.postMessage(C, { attachments: 2 });
  proxy.quotaExceeded({ match: (r) => r.method === 'PUT' && r.key.startsWith('arch/') && !r.key.includes('.dps-write-check') });
  const refused = await run('quota', s3Args(fake.api, G, C, out, state, '--types', 'all', '--write-metadata'));
  t.equal(refused.code, 1, `a full quota: exit 1 (stderr: ${refused.stderr})`);
  t.match(refused.lines.at(-1), { event: 'summary', error: /quota/i }, 'the summary says why');
  proxy.clear();
  const wrong = 'wRoNg+SeCrEt/0123456789abcdefghijklmnop';
  const denied = await run('wrong credentials', s3Args(fake.api, G, C, out, state), { ...env, AWS_SECRET_ACCESS_KEY: wrong });
  t.equal(denied.code, 3, `wrong credentials: exit 3 (stderr: ${denied.stderr})`);
  const manifest = await run('manifest', ['manifest', '--state', state]);
  t.equal(manifest.code, 0, 'manifest exit 0');

  // What the storage service received.
  const requests = proxy.recorded();
  const sent = requests.map((r, i): [string, Buffer] => [`request ${i} ${r.method} ${r.path}`, requestBytes(r)]);
  t.ok(requests.length > 20, `${requests.length} requests recorded`);
  t.ok(
    requests.some((r) => r.method === 'PUT' && r.path.includes('.json') && r.body.length > 0),
    'sidecar uploads recorded with their bodies',
  );
  t.ok(
    requests.some((r) => r.method === 'PUT' && r.path.includes('/gallery/data/')),
    'gallery uploads recorded',
  );
  t.ok(
    requests.some((r) => r.rawHeaders.some((h) => /^x-amz-copy-source$/i.test(h))),
    'server-side copies recorded',
  );
  t.ok(
    fake.requests.some((entry) => entry.kind === 'api' && entry.status === 200),
    'the token went to the Discord API (the fake checks it on every request)',
  );
  t.same(leaks(fake.token, sent), [], 'no request to S3 holds the Discord token in any form');
  t.same(leaks(secret, sent), [], 'no request to S3 holds the S3 secret');
  t.same(leaks(wrong, sent), [], 'nor the wrong one');

  for (const [name, r] of runs) t.notMatch(r.stderr, /\(node:\d+\) \w*Warning/, `${name}: no process warning`);

  // What dps printed and kept.
  const printed = runs.flatMap(
    ([name, r]): Array<[string, Buffer]> => [
      [`${name} stdout`, Buffer.from(r.stdout)],
      [`${name} stderr`, Buffer.from(r.stderr)],
    ],
  );
  const kept = [...(await filesUnder(state)), ...(await filesUnder(`${state}.s3-gallery`)), ...(await stateEntries(state))];
  const objects = await objectsUnder(client, bucket);
  const stored = [...objects].map(([key, o]): [string, Buffer] => [`object ${key}`, o.bytes]);
  t.ok(
    [...objects.keys()].some((k) => k.endsWith('.json')) && [...objects.keys()].some((k) => k.includes('/gallery/thumbs/')),
    'sidecars and thumbnails stored',
  );
  for (const [name, value] of [
    ['the Discord token', fake.token],
    ['the S3 secret', secret],
    ['the wrong S3 secret', wrong],
  ] as const) {
    t.same(leaks(value, printed), [], `${name} in no stdout or stderr`);
    t.same(leaks(value, kept), [], `${name} in no file of the state or the staging folder, in no state record`);
    t.same(leaks(value, stored), [], `${name} in no stored object`);
  }
});
