// Name collisions (issue 20, item 1): a path is written only by the attachment that holds its claim; whatever
// the name pattern, a collision gets the attachment id before the extension (after sanitising and cutting),
// then a counter; no file is ever replaced, on disk or in the state, in one run or across runs.

import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { startFakeDiscord } from '../../fixtures/fake-discord.js';
import type { FakeDiscord } from '../../fixtures/fake-discord.js';
import type { AttachmentSpec, MessageSpec } from '../../fixtures/generate.js';
import { singleChannel } from '../../fixtures/scenarios.js';
import type { SingleChannelOptions } from '../../fixtures/scenarios.js';
import { claimPath } from '../../lib/stages/claim-path.js';
import type { Claim } from '../../lib/stages/claim-path.js';
import { writeItem } from '../../lib/stages/write.js';
import type { WriteOptions } from '../../lib/stages/write.js';
import type { MediaItem } from '../../lib/types.js';
import { localItem, localWorld } from '../helpers/stage-items.js';
import { listFiles, runLibrary } from '../helpers/harness.js';
import { baseOptions } from '../helpers/verify.js';
import { mountTmpfs, unmountTmpfs } from '../helpers/tmpfs.js';

const png = (filename: string, size: number): AttachmentSpec => ({ filename, contentType: 'image/png', size, width: 10, height: 10 });
const sha = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

async function fakeFor(t: Test, options: SingleChannelOptions): Promise<{ fake: FakeDiscord; channelId: string }> {
  const fake = await startFakeDiscord({ scenario: singleChannel({ seed: 20, gapRate: 0, ...options }) });
  t.teardown(() => fake.close());
  return { fake, channelId: fake.scenario.guilds[0]!.channels.find((c) => c.gen)!.id };
}

type Saved = { event: 'saved'; path: string; sha256: string; bytes: number; attachment_id: string; message_id: string; duplicate_of?: string };

// Every saved event's path holds exactly its bytes; paths are distinct; files on disk == saved events.
async function checkSaved(t: Test, events: Array<{ event: string }>, out: string, fake: FakeDiscord, channelId: string, foreign = 0): Promise<Saved[]> {
  const saved = events.filter((e): e is Saved => e.event === 'saved');
  const expected = [...fake.expected({ channelId })];
  t.equal(saved.length, expected.length, `a saved event for each of the ${expected.length} files`);
  t.equal(new Set(saved.map((e) => e.path)).size, saved.length, 'every saved event has its own path');
  for (const e of saved) {
    const bytes = await fs.readFile(e.path);
    const want = expected.find((x) => x.attachment_id === e.attachment_id);
    if (sha(bytes) !== e.sha256 || want?.sha256 !== e.sha256) t.fail(`${e.path} does not hold the bytes of ${e.attachment_id}`);
  }
  t.equal((await listFiles(out)).length, saved.length + foreign, 'files on disk == saved events (+ foreign files)');
  return saved;
}

for (const pattern of ['{message_id}.{ext}', '{date}', '{date}_{message_id}.{ext}']) {
  t.test(`a pattern with no per-file part: ${pattern}`, async (t) => {
    // 40 messages of 1-3 images each, a minute apart: several files per message and dozens per day.
    const { fake, channelId } = await fakeFor(t, { messages: 40, imageRatio: 1, spacingMs: 60_000, sizes: [500, 3_000] });
    const dir = t.testdir();
    const options = { ...baseOptions(fake, dir, channelId), namePattern: pattern, concurrency: 16 };
    const { result, events } = await runLibrary(options);
    t.equal(result.exitCode, 0);
    await checkSaved(t, events, options.out, fake, channelId);
  });
}

t.test('hostile same-name pairs in one message, default pattern', async (t) => {
  const long = `${'a'.repeat(296)}.png`;
  const emoji = `${'📷'.repeat(80)}.png`;
  const cjk = `${'写真'.repeat(60)}.png`;
  const family = `${'👨‍👩‍👧'.repeat(20)}.png`;
  const overrides: Record<number, MessageSpec> = {
    1: { content: 'two long names', attachments: [png(long, 1001), png(long, 1002)] },
    2: { content: 'emoji cut to the limit', attachments: [png(emoji, 1003), png(emoji, 1004), png(family, 1013), png(family, 1014)] },
    3: { content: 'cjk cut to the limit', attachments: [png(cjk, 1005), png(cjk, 1006)] },
    4: { content: 'sanitised alike', attachments: [png('a?.png', 1007), png('a*.png', 1008), png('a:.png', 1009)] },
    5: { content: 'case twins', attachments: [png('A.png', 1010), png('a.png', 1011)] },
    6: { content: 'decomposed twin', attachments: [png('e\u0301.png', 1015), png('\u00e9.png', 1016)] },
  };
  const { fake, channelId } = await fakeFor(t, { messages: 8, imageRatio: 0, overrides });
  const dir = t.testdir();
  const options = { ...baseOptions(fake, dir, channelId), concurrency: 16 };
  const { result, events } = await runLibrary(options);
  t.equal(result.exitCode, 0);
  const saved = await checkSaved(t, events, options.out, fake, channelId);
  const keys = saved.map((e) => path.basename(e.path).normalize('NFKC').toUpperCase().toLowerCase());
  t.equal(new Set(keys).size, keys.length, 'no two names differ only by case or normalisation');
  for (const e of saved) t.ok(Buffer.byteLength(path.basename(e.path)) <= 120, 'cut to the length limit');
  // 15 files in 7 groups that render to one name: 8 twins get their attachment id before the extension.
  const renamed = saved.filter((e) => path.basename(e.path).endsWith(`_${e.attachment_id}.png`));
  t.equal(renamed.length, 8, 'every twin but the first of its group carries its attachment id before the extension');
});

t.test('case and normalisation twins across messages collide on a case-insensitive check ({filename})', async (t) => {
  const names = ['A.png', 'a.png', '\u00c9t\u00e9.png', 'e\u0301te\u0301.png', 'STRASSE.png', 'stra\u00dfe.png'];
  const overrides: Record<number, MessageSpec> = Object.fromEntries(names.map((name, i) => [i + 1, { content: name, attachments: [png(name, 2_000 + i)] }]));
  const { fake, channelId } = await fakeFor(t, { messages: 8, imageRatio: 0, overrides });
  const dir = t.testdir();
  const options = { ...baseOptions(fake, dir, channelId), namePattern: '{filename}' };
  const { result, events } = await runLibrary(options);
  t.equal(result.exitCode, 0);
  const saved = await checkSaved(t, events, options.out, fake, channelId);
  const renamed = saved.filter((e) => path.basename(e.path).endsWith(`_${e.attachment_id}.png`));
  t.equal(renamed.length, 3, 'the second of each pair gets its attachment id: one folder would hold both on macOS and Windows');
});

t.test('a foreign file at the target path is never replaced', async (t) => {
  const { fake, channelId } = await fakeFor(t, { messages: 12, imageRatio: 1, sizes: [500, 3_000] });
  const root = t.testdir();
  const first = path.join(root, 'first');
  const run1 = await runLibrary(baseOptions(fake, first, channelId));
  const paths = (run1.events as Array<{ event: string }>)
    .filter((e): e is Saved => e.event === 'saved')
    .map((e) => path.relative(path.join(first, 'out'), e.path));
  t.ok(paths.length > 5);
  // A fresh archive whose --out already holds a user's files at three of those paths (one of them a file whose
  // size equals the attachment's, so only the bytes tell them apart).
  const options = baseOptions(fake, path.join(root, 'second'), channelId);
  const foreign = paths.slice(0, 3);
  for (const [i, rel] of foreign.entries()) {
    mkdirSync(path.dirname(path.join(options.out, rel)), { recursive: true });
    const size = i === 0 ? (await fs.stat(path.join(first, 'out', rel))).size : 7;
    writeFileSync(path.join(options.out, rel), Buffer.alloc(size, 0x41));
  }
  const { result, events } = await runLibrary(options);
  t.equal(result.exitCode, 0);
  await checkSaved(t, events, options.out, fake, channelId, foreign.length);
  for (const [i, rel] of foreign.entries()) {
    const bytes = await fs.readFile(path.join(options.out, rel));
    t.ok(bytes.every((b) => b === 0x41) && (i === 0 || bytes.length === 7), `the user's ${rel} is untouched`);
  }
});

t.test('claims hold across runs: a later attachment rendering to an archived path gets its own name', async (t) => {
  const { fake, channelId } = await fakeFor(t, { messages: 6, imageRatio: 1, sizes: [500, 3_000] });
  const dir = t.testdir();
  const options = { ...baseOptions(fake, dir, channelId), namePattern: '{channel_id}.{ext}' };
  const run1 = await runLibrary(options);
  t.equal(run1.result.exitCode, 0);
  const before = new Map<string, string>();
  for (const file of await listFiles(options.out)) before.set(file, sha(await fs.readFile(path.join(options.out, file))));
  fake.appendMessages(channelId, 6, { imageRatio: 1 });
  const run2 = await runLibrary(options);
  t.equal(run2.result.exitCode, 0);
  for (const [file, digest] of before) t.equal(sha(await fs.readFile(path.join(options.out, file))), digest, `${file} kept its bytes`);
  await checkSaved(t, [...run1.events, ...run2.events], options.out, fake, channelId);
});

// writeItem on its own, with a body the test controls and a real LevelDB: the bytes at the claimed path, not yet
// recorded (dedupe.ts records); a body that disagrees with the declared size is size_mismatch; a stop before or
// during the body leaves neither a file nor a record.
async function* chunks(parts: readonly string[], between?: () => void): AsyncGenerator<Uint8Array> {
  for (const [i, part] of parts.entries()) {
    if (i > 0) between?.();
    yield Buffer.from(part);
  }
}

// A claim for `item` under the '{filename}' pattern, as fetch.ts makes it before the GET.
async function claimed(world: Awaited<ReturnType<typeof localWorld>>, item: MediaItem): Promise<{ claim: Claim; options: WriteOptions }> {
  const options: WriteOptions = { ...world, namePattern: '{filename}' };
  return { claim: await claimPath(item, options), options };
}

t.test('writeItem: the body at the claimed path, not yet recorded', async (t) => {
  const world = await localWorld(t);
  const item = localItem(world.context, '501', { size: 6 });
  const { claim, options } = await claimed(world, item);
  const written = await writeItem(item, chunks(['abc', 'def']), claim, options);
  t.equal(written.path, claim.path);
  t.equal(await fs.readFile(written.path, 'utf8'), 'abcdef');
  t.same(written, { path: claim.path, sha256: sha(Buffer.from('abcdef')), bytes: 6 });
  t.equal(await world.store.getAttachment('501'), undefined, 'recording is the next step (dedupe.ts)');
});

t.test('writeItem: a name holding a file the state does not know moves the claim to the next candidate', async (t) => {
  const world = await localWorld(t);
  const item = localItem(world.context, '505', { size: 6 });
  const { claim, options } = await claimed(world, item);
  const taken = claim.path;
  await fs.mkdir(path.dirname(taken), { recursive: true });
  await fs.writeFile(taken, 'theirs');
  const written = await writeItem(item, chunks(['abc', 'def']), claim, options);
  t.not(claim.path, taken);
  t.equal(claim.n, 1);
  t.equal(written.path, claim.path);
  t.equal(await fs.readFile(taken, 'utf8'), 'theirs', 'never replaced');
  t.equal(await fs.readFile(claim.path, 'utf8'), 'abcdef');
  t.equal(await world.store.storedClaim(taken), undefined, 'the claim no longer vouches for that file');
});

t.test('writeItem: a Content-Length that disagrees with the attachment is size_mismatch, before any byte is written', async (t) => {
  const world = await localWorld(t);
  const item = localItem(world.context, '502', { size: 6 });
  const { claim, options } = await claimed(world, item);
  await t.rejects(writeItem(item, chunks(['abcdefg']), claim, options, 7), {
    code: 'DPS_DOWNLOAD',
    reason: 'size_mismatch',
    retryable: true,
  });
  t.same(await listFiles(world.out).catch(() => []), []);
});

t.test('writeItem aborted before start: no file, no record', async (t) => {
  const world = await localWorld(t);
  const item = localItem(world.context, '503', { size: 6 });
  const { claim, options } = await claimed(world, item);
  const controller = new AbortController();
  controller.abort();
  await t.rejects(writeItem(item, chunks(['abc', 'def']), claim, { ...options, signal: controller.signal }));
  t.same(await listFiles(world.out).catch(() => []), [], 'no file, no temp file');
  t.equal(await world.store.getAttachment('503'), undefined);
});

t.test('writeItem aborted mid-flight (after the first chunk): no file, no record', async (t) => {
  const world = await localWorld(t);
  const item = localItem(world.context, '504', { size: 6 });
  const { claim, options } = await claimed(world, item);
  const controller = new AbortController();
  await t.rejects(
    writeItem(
      item,
      chunks(['abc', 'def'], () => controller.abort()),
      claim,
      { ...options, signal: controller.signal },
    ),
  );
  t.same(await listFiles(world.out).catch(() => []), [], 'no file, no temp file');
  t.equal(await world.store.getAttachment('504'), undefined);
});

// File times (issue 23): with `mtime`, the file arrives with its message's post time; a timestamp that is not
// one (malformed, or the epoch a message without one is given) leaves the time it was written, like no `mtime`.
t.test('writeItem: with mtime the file has its post time; without, or with no usable timestamp, the time it was written', async (t) => {
  const world = await localWorld(t);
  const started = Date.now();
  const cases: Array<[string, string, boolean, number | undefined]> = [
    ['511', '2021-02-03T04:05:06.789000+00:00', true, Date.UTC(2021, 1, 3, 4, 5, 6, 789)],
    ['512', '2021-02-03T04:05:06.789000+00:00', false, undefined],
    ['513', 'not a time', true, undefined],
    ['514', new Date(0).toISOString(), true, undefined],
  ];
  for (const [id, timestamp, mtime, want] of cases) {
    const item = localItem(world.context, id, { size: 6, timestamp });
    const { claim, options } = await claimed(world, item);
    const written = await writeItem(item, chunks(['abc', 'def']), claim, { ...options, mtime });
    const stat = await fs.lstat(written.path, { bigint: true });
    if (want === undefined) t.ok(Number(stat.mtimeNs / 1_000_000n) >= started - 2_000, `${timestamp} (mtime ${mtime}): written now`);
    else t.same([stat.mtimeNs, stat.atimeNs], [BigInt(want) * 1_000_000n, BigInt(want) * 1_000_000n], `${timestamp}: its post time`);
  }
});

// --write-metadata (issue 23): a downloaded file's sidecar is written by the disk thread with the file, and the
// file's claim vouches for `<file>.json` without a claim of its own in the state; another file of the archive
// that claims that name keeps it.
t.test('writeItem with sidecars: the sidecar lands with the file, no claim of its own; never at a name another file claims', async (t) => {
  const world = await localWorld(t);
  const item = localItem(world.context, '511', { size: 6, message_id: '900' });
  const { claim, options } = await claimed(world, item);
  const written = await writeItem(item, chunks(['abc', 'def']), claim, { ...options, sidecars: true });
  t.equal(written.sidecar, true);
  const sidecar = JSON.parse(await fs.readFile(`${claim.path}.json`, 'utf8')) as Record<string, unknown>;
  t.match(sidecar, { attachment_id: '511', message_id: '900', path: claim.path, sha256: sha(Buffer.from('abcdef')), bytes: 6 });
  t.equal(await world.store.claimOf(`${claim.path}.json`), undefined, 'nothing claims the sidecar name: the file vouches for it');

  // An attachment of the archive literally named like the sidecar claims that name first: no sidecar there.
  const other = localItem(world.context, '512', { size: 6, message_id: '901' });
  const otherClaim = await claimed(world, other);
  t.ok(await world.store.claimPath(`${otherClaim.claim.path}.json`, '513', true), 'attachment 513 claims the name');
  const second = await writeItem(other, chunks(['ghijkl']), otherClaim.claim, { ...otherClaim.options, sidecars: true });
  t.equal(second.sidecar, undefined, 'left to the metadata stage, which refuses the name');
  t.equal(await fs.readFile(`${otherClaim.claim.path}.json`).catch(() => undefined), undefined, 'nothing written at the claimed name');

  // A file (not the state's) already at the sidecar's name: never replaced, the file is written all the same.
  const third = localItem(world.context, '514', { size: 6, message_id: '902' });
  const thirdClaim = await claimed(world, third);
  await fs.writeFile(`${thirdClaim.claim.path}.json`, 'theirs');
  const placed = await writeItem(third, chunks(['mnopqr']), thirdClaim.claim, { ...thirdClaim.options, sidecars: true });
  t.equal(placed.sidecar, undefined);
  t.equal(await fs.readFile(`${thirdClaim.claim.path}.json`, 'utf8'), 'theirs', 'never replaced');
  t.equal(await fs.readFile(placed.path, 'utf8'), 'mnopqr');
  t.same(
    (await fs.readdir(path.dirname(placed.path))).filter((n) => n.includes('dps-tmp')),
    [],
    'no temp file left',
  );
});

// The attack on a sidecar without a claim of its own: attachments literally named `<another file>.json`, in one
// message and across messages, in both orders, downloaded at once. No file is ever replaced by a sidecar nor a
// sidecar by a file: every record's file holds its bytes, and every `.json` that is not an attachment's record
// is the sidecar of the file it is named after.
t.test('attachments named like sidecars (x.png and x.png.json): nothing replaced either way', async (t) => {
  const json = (filename: string, size: number): AttachmentSpec => ({ filename, contentType: 'application/json', size });
  const overrides: Record<number, MessageSpec> = {
    1: { content: 'file first', attachments: [png('a.png', 1_001)] },
    2: { content: 'its twin later', attachments: [json('a.png.json', 1_002)] },
    3: { content: 'twin first', attachments: [json('b.png.json', 1_003)] },
    4: { content: 'file later', attachments: [png('b.png', 1_004)] },
    5: { content: 'one message, file first', attachments: [png('c.png', 1_005), json('c.png.json', 1_006)] },
    6: { content: 'one message, twin first', attachments: [json('d.png.json', 1_007), png('d.png', 1_008)] },
  };
  const { fake, channelId } = await fakeFor(t, { messages: 8, imageRatio: 0, overrides });
  const dir = t.testdir();
  const options = { ...baseOptions(fake, dir, channelId), namePattern: '{filename}', concurrency: 16, writeMetadata: 'file' as const };
  const { result, events } = await runLibrary(options);
  t.equal(result.exitCode, 0);
  const saved = (events as Array<{ event: string }>).filter((e): e is Saved => e.event === 'saved');
  t.equal(saved.length, 8, 'all 8 files saved');
  const expected = [...fake.expected({ channelId })];
  for (const e of saved) {
    const want = expected.find((x) => x.attachment_id === e.attachment_id);
    t.equal(sha(await fs.readFile(e.path)), want?.sha256, `${path.basename(e.path)} holds the bytes of ${e.attachment_id}`);
  }
  const recorded = new Set(saved.map((e) => e.path));
  let sidecars = 0;
  for (const file of (await listFiles(options.out)).map((rel) => path.join(options.out, rel))) {
    if (recorded.has(file)) continue;
    t.ok(file.endsWith('.json'), `${path.basename(file)}: only sidecars besides the files`);
    const owner = saved.find((e) => `${e.path}.json` === file);
    t.ok(owner !== undefined, `${path.basename(file)} is named after a saved file`);
    t.match(JSON.parse(await fs.readFile(file, 'utf8')), { attachment_id: owner?.attachment_id, path: owner?.path, sha256: owner?.sha256 });
    sidecars++;
  }
  t.ok(sidecars >= 4, `${sidecars} sidecars`);
});

// A duplicate that cannot be hard-linked to its first copy (another file system) is removed and recorded at the
// first copy's path (dedupe.ts): the sidecar the disk thread wrote beside it goes too (fetch.ts withSidecar), since
// a file without a name of its own has no sidecar.
t.test('a duplicate recorded at the first copy (no link across file systems) leaves no sidecar behind', async (t) => {
  const overrides: Record<number, MessageSpec> = {
    1: { content: 'original', attachments: [png('original.png', 4_000)] },
    2: { content: 'repost', attachments: [{ filename: 'repost.png', contentType: 'image/png', size: 0, sameBytesAs: { index: 1 } }] },
  };
  const { fake, channelId } = await fakeFor(t, { messages: 3, imageRatio: 0, overrides });
  const dir = t.testdir();
  const options = { ...baseOptions(fake, dir, channelId), pathPattern: '{message_id}', writeMetadata: 'file' as const };
  const repost = [...fake.expected({ channelId })].find((x) => x.filename === 'repost.png')!;
  const other = path.join(options.out, repost.message_id); // the repost's folder, on a file system of its own
  await fs.mkdir(other, { recursive: true });
  if (!mountTmpfs(other, '1m')) {
    t.pass('skipped: cannot mount a tmpfs here (needs root)', { skip: true });
    return;
  }
  t.teardown(() => unmountTmpfs(other));
  const { result, events } = await runLibrary(options);
  t.equal(result.exitCode, 0);
  const saved = (events as Array<{ event: string }>).filter((e): e is Saved => e.event === 'saved');
  // Whichever finished second is the duplicate (the two download at once): the one on the other file system.
  const copy = saved.find((e) => e.duplicate_of !== undefined && e.path === e.duplicate_of);
  const first = saved.find((e) => e !== copy);
  t.ok(copy !== undefined && first !== undefined, 'one of them is recorded at the first copy');
  const expected = [...fake.expected({ channelId })];
  const folder = path.join(options.out, expected.find((x) => x.attachment_id === copy?.attachment_id)!.message_id);
  t.same(await fs.readdir(folder), [], 'nothing left in its own folder: no file, no sidecar, no temp');
  t.match(
    JSON.parse(await fs.readFile(`${first?.path}.json`, 'utf8')),
    { attachment_id: first?.attachment_id, path: first?.path },
    'the first copy keeps its own',
  );
});
