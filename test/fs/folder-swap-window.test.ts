// The folder-swap race (test/fs/folder-swap-race.test.ts) made deterministic. Its flipper moves the channel
// folder away, puts a symlink in its place a moment later, and back. Two windows:
// - the disk thread's link: a swap (and its undoing) exactly between the folder's check and the link, and
//   between the link and the check after it. The link goes through the held folder (pinned-folder.ts), so the
//   file lands in the real folder wherever its path leads meanwhile; a pause hook in the worker
//   (DiskWorkerData.pause) puts the swaps there.
// - the folder's check at a run's start: in the moment the folder is away (no symlink yet), a mkdir made a fresh
//   empty folder in its place; the flipper could not put the real one back, the run went on into the fresh one,
//   and every file the state had recorded in the real one was `saved` at a path that held nothing. A folder
//   the state has files in is now never created (atomic-write.ts, Store.holdsFilesUnder): missing, the run stops.

import fs from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { MemoryLevel } from 'memory-level';
import t from 'tap';
import type { Test } from 'tap';
import { startFakeDiscord } from '../../fixtures/fake-discord.js';
import { singleChannel } from '../../fixtures/scenarios.js';
import { ensureDirInside } from '../../lib/fs/atomic-write.js';
import type { FolderCache } from '../../lib/fs/atomic-write.js';
import { DiskThread } from '../../lib/fs/disk-thread.js';
import { closeSidecar } from '../../lib/fs/sidecar-text.js';
import { manifest } from '../../lib/index.js';
import { createStore } from '../../lib/store/open.js';
import { collect, listFiles, runCli, sha256File } from '../helpers/harness.js';

// The worker's pause (disk-thread-worker.ts pauseAt): resolves once the worker stopped at `point`; throws if
// `writing` settles first (the file never got there).
async function reached(pause: Int32Array, point: number, writing: Promise<unknown>): Promise<void> {
  let settled = false;
  writing.then(
    () => (settled = true),
    () => (settled = true),
  );
  while (Atomics.load(pause, 0) !== point) {
    if (settled) throw new Error(`the write ended before pause point ${point}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}
function resume(pause: Int32Array): void {
  Atomics.store(pause, 0, 0);
  Atomics.notify(pause, 0);
}

function setup(t: Test) {
  const root = t.testdir({ archive: {}, outside: {} });
  const archive = path.join(root, 'archive');
  const outside = path.join(root, 'outside');
  const moved = path.join(root, 'moved');
  const dir = path.join(archive, 'Server_1', 'chan_2');
  const shared = new SharedArrayBuffer(4);
  const pause = new Int32Array(shared);
  const disk = new DiskThread({ pause: shared });
  t.teardown(() => disk.close());
  const swap = async (): Promise<void> => {
    await fs.rename(dir, moved);
    await fs.symlink(outside, dir);
  };
  const restore = async (): Promise<void> => {
    await fs.unlink(dir);
    await fs.rename(moved, dir);
  };
  return { archive, outside, moved, dir, pause, disk, swap, restore, folders: new Map() as FolderCache };
}

t.test('swapped between the check and the link, restored between the link and the check after it: the file is in the real folder', async (t) => {
  const { archive, outside, dir, pause, disk, swap, restore, folders } = setup(t);
  const data = Buffer.from('the bytes of a.bin');
  const final = path.join(dir, 'a.bin');
  const writing = disk.writeFile(dir, [data], final, { expectedSize: data.byteLength, root: archive, folders });
  await reached(pause, 1, writing); // the folder checked and held, the link next
  await swap();
  resume(pause);
  await reached(pause, 2, writing); // linked (while the path led outside)
  await restore();
  resume(pause);
  const written = await writing;
  t.equal(written.taken, undefined, 'placed');
  t.same(await fs.readdir(outside), [], 'nothing written outside the root');
  t.same(await fs.readFile(final), data, 'the final path holds the bytes');
  t.same(await fs.readdir(dir), ['a.bin'], 'and nothing else (no temp file)');
});

t.test('swapped between the check and the link and left swapped: refused, and the file made in the real folder is taken back', async (t) => {
  const { archive, outside, moved, dir, pause, disk, swap, folders } = setup(t);
  const data = Buffer.from('the bytes of b.bin');
  const writing = disk.writeFile(dir, [data], path.join(dir, 'b.bin'), { expectedSize: data.byteLength, root: archive, folders });
  writing.catch(() => undefined);
  await reached(pause, 1, writing);
  await swap();
  resume(pause);
  await reached(pause, 2, writing);
  resume(pause);
  await t.rejects(writing, { name: 'OutputUnsafeError', message: /was replaced by a symlink; refusing to keep a file in it/ });
  t.same(await fs.readdir(outside), [], 'nothing written outside the root');
  t.same(await fs.readdir(moved), [], 'no final name (and no temp file) left in the real folder');
});

// --write-metadata: the file's sidecar is linked right after it (fsynced with it, or deferred: linked at once,
// no fsync of its own). The folder left swapped after both links: both are taken back from the real folder.
for (const deferred of [false, true]) {
  t.test(`swapped after the check and left swapped, with a sidecar${deferred ? ' (deferred)' : ''}: the file and its sidecar are taken back`, async (t) => {
    const { archive, outside, moved, dir, pause, disk, swap, folders } = setup(t);
    const sidecarDevice = deferred ? String((await fs.stat(archive, { bigint: true })).dev) : undefined;
    const data = Buffer.from('the bytes of c.bin');
    const options = { expectedSize: data.byteLength, root: archive, folders, sidecarHead: '{\n  "message_id": "1"', sidecarDevice };
    const writing = disk.writeFile(dir, [data], path.join(dir, 'c.bin'), options);
    let settled = false;
    writing.then(
      () => (settled = true),
      () => (settled = true),
    );
    await reached(pause, 1, writing); // the file's link next
    await swap();
    // Every later stop (after the file's link, around the sidecar's) passed at once.
    while (!settled) {
      if (Atomics.load(pause, 0) !== 0) resume(pause);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await t.rejects(writing, { name: 'OutputUnsafeError' });
    t.same(await fs.readdir(outside), [], 'nothing written outside the root');
    t.same(await fs.readdir(moved), [], 'neither the file nor its sidecar (nor a temp file) left in the real folder');
  });
}

// A deferred sidecar whose name already holds the very same bytes (a run that lost its record): no-replace.ts adopts
// it, as it adopts the file; the folder then left swapped: what dps adopted is not its to take back, by inode (a
// sidecar linked by dps itself goes by its bytes, above).
t.test('an identical file and sidecar already there, the folder then left swapped: both adopted, neither taken back', async (t) => {
  const { archive, moved, dir, pause, disk, swap, folders } = setup(t);
  const data = Buffer.from('the bytes of d.bin');
  const final = path.join(dir, 'd.bin');
  const head = '{\n  "message_id": "1"';
  const sidecar = closeSidecar(head, final, createHash('sha256').update(data).digest('hex'), data.byteLength);
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(final, data);
  await fs.writeFile(`${final}.json`, sidecar);
  const sidecarDevice = String((await fs.stat(archive, { bigint: true })).dev);
  const options = { expectedSize: data.byteLength, root: archive, folders, sidecarHead: head, sidecarDevice };
  const writing = disk.writeFile(dir, [data], final, options);
  let settled = false;
  writing.then(
    () => (settled = true),
    () => (settled = true),
  );
  await reached(pause, 1, writing);
  await swap();
  while (!settled) {
    if (Atomics.load(pause, 0) !== 0) resume(pause);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await t.rejects(writing, { name: 'OutputUnsafeError' });
  t.same((await fs.readdir(moved)).sort(), ['d.bin', 'd.bin.json'], 'both left in the real folder, and no temp file');
  t.equal(await fs.readFile(path.join(moved, 'd.bin.json'), 'utf8'), sidecar, 'the sidecar as it was');
});

t.test('a folder the state has files in is never created afresh, even when it is away only at the moment of the check', async (t) => {
  const root = t.testdir({ archive: { Server_1: { chan_2: { 'a.png': 'a' } } } });
  const archive = path.join(root, 'archive');
  const dir = path.join(archive, 'Server_1', 'chan_2');
  const moved = path.join(root, 'moved');
  const asked: string[] = [];
  let away = false;
  // The state knows chan_2's files; the folder goes away exactly when the check asks (the flipper's moment).
  const folders: FolderCache = Object.assign(new Map(), {
    holdsFilesUnder: async (folder: string) => {
      asked.push(folder);
      if (folder !== dir) return folder === path.dirname(dir);
      if (!away) await fs.rename(dir, moved); // at the first check only
      away = true;
      return true;
    },
  });
  await t.rejects(ensureDirInside(archive, dir, folders), {
    name: 'OutputUnsafeError',
    code: 'DPS_OUTPUT_UNSAFE',
    message: /output folder .*chan_2 is gone, but the state has files archived in it; refusing to create it afresh; put it back and re-run/,
  });
  t.same(asked, [path.dirname(dir), dir], 'every component below the root is asked about, top down');
  asked.length = 0;
  t.notOk(existsSync(dir), 'no folder was made in its place');
  t.equal(folders.size, 0, 'a refused check is not kept');
  await fs.rename(moved, dir);
  const identity = await ensureDirInside(archive, dir, folders);
  t.equal(identity.dir, dir, 'put back: checked as before');

  // A folder the state knows nothing of is created as ever; one created by hand (empty) is taken as it is.
  const fresh = path.join(archive, 'Server_1', 'chan_3');
  await ensureDirInside(archive, fresh, folders);
  t.ok(existsSync(fresh), 'an unknown folder is created');
  const byHand: FolderCache = Object.assign(new Map(), { holdsFilesUnder: async () => true });
  await fs.rm(dir, { recursive: true });
  await t.rejects(ensureDirInside(archive, dir, byHand), { message: /is gone/ });
  await fs.mkdir(dir);
  await ensureDirInside(archive, dir, byHand);
  t.pass('a folder created again by hand is accepted');
});

t.test('Store.holdsFilesUnder: saved files in a folder or below it, compared as claims are, claims alone not', async (t) => {
  const store = await createStore(new MemoryLevel<string, unknown>());
  t.teardown(() => store.close());
  const record = { channel_id: 'c1', message_id: 'm1', attachment_id: 'a1', filename: 'a.png', url: 'https://cdn/a', guild_id: 'g1' };
  await store.recordSaved({ ...record, status: 'saved', path: '/archive/G/Chan/a.png', sha256: 's', bytes: 1 } as never);
  t.equal(await store.holdsFilesUnder('/archive/G/Chan'), true, 'a saved file in it');
  t.equal(await store.holdsFilesUnder('/archive/G/chan/'), true, 'case folded, trailing separator ignored');
  t.equal(await store.holdsFilesUnder('/archive/G'), true, 'a file below it');
  // A download's claim (persisted before its GET) whose file never got saved: not a file in the folder.
  await store.claimPath('/archive/G/Other/b.png', 'a2', true);
  await store.recordSaved({ ...record, attachment_id: 'a3', status: 'saved', path: '/archive/K/c.png', sha256: 't', bytes: 1 } as never);
  t.equal(await store.storedClaim('/archive/G/Other/b.png'), 'a2', 'the claim is in the state');
  t.equal(await store.holdsFilesUnder('/archive/G/Other'), false, 'a claim alone is no file');
  t.equal(await store.holdsFilesUnder('/archive/G/Cha'), false, 'a prefix of a name is another folder');
  t.equal(await store.holdsFilesUnder('/archive/G/Chan/a.png'), false, 'a file is not a folder');
  t.equal(await store.holdsFilesUnder('/archive/H'), false, 'nothing there');
});

t.test('end to end: a channel folder moved away between runs stops the next run until it is put back', async (t) => {
  const fake = await startFakeDiscord({ scenario: singleChannel({ seed: 5, messages: 12, gapRate: 0, imageRatio: 1, sizes: [500, 2_000] }) });
  t.teardown(() => fake.close());
  const channel = fake.scenario.guilds[0]!.channels[0]!;
  const dir = t.testdir();
  const out = path.join(dir, 'out');
  const state = path.join(dir, 'state');
  const base = ['--server-id', fake.scenario.guilds[0]!.id, '--channel-id', channel.id, '--api', fake.api, '--out', out, '--state', state];
  const env = { DISCORD_TOKEN: fake.token };
  // The first run keeps the small files (--max-size), so the next one, without it, has files to download there.
  const first = await runCli([...base, '--types', 'all', '--max-size', '1000B'], { env, cwd: dir });
  t.equal(first.code, 0, 'the first run archives some files');
  const files = await listFiles(out);
  t.ok(files.length >= 1, `files on disk (${files.length})`);
  const folder = path.dirname(path.join(out, files[0]!));
  const away = path.join(dir, 'away');
  await fs.rename(folder, away);

  const refused = await runCli([...base, '--types', 'all'], { env, cwd: dir });
  t.equal(refused.code, 1, 'exit 1 (DPS_OUTPUT_UNSAFE)');
  t.match(refused.stderr, /is gone, but the state has files archived in it/, 'stderr says why');
  const failed = refused.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { event: string; reason?: string })
    .filter((e) => e.event === 'failed');
  t.ok(failed.length >= 1 && failed.every((e) => e.reason === 'output_unsafe'), 'the refused file fails with output_unsafe');
  t.notOk(existsSync(folder), 'the folder was not created afresh');

  await fs.rename(away, folder);
  const last = await runCli([...base, '--types', 'all'], { env, cwd: dir });
  t.equal(last.code, 0, 'put back, the next run completes');
  const records = await collect(manifest(state));
  const saved = records.filter((r) => r.status === 'saved');
  t.ok(saved.length > files.length, `more files saved (${saved.length})`);
  const broken: string[] = [];
  for (const r of saved) if (r.path === undefined || !existsSync(r.path) || (await sha256File(r.path)) !== r.sha256) broken.push(String(r.path));
  t.same(broken, [], "every saved record's path holds its bytes");
});
