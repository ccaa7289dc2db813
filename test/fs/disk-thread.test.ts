// The disk threads: the same contract as writeTemp / commitTemp in this thread (atomic-write.test.ts), with the
// bytes hashed, written, fsynced and renamed by worker threads.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import fs from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { DiskFullError, DownloadError } from '../../lib/errors.js';
import { DiskThread } from '../../lib/fs/disk-thread.js';
import { removeStaleTemps } from '../../lib/fs/atomic-write.js';
import type { FolderCache } from '../../lib/fs/atomic-write.js';
import { mountTmpfs, unmountTmpfs } from '../helpers/tmpfs.js';

const sha = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');
const tempsIn = async (dir: string): Promise<string[]> => (await fs.readdir(dir)).filter((n) => n.endsWith('.dps-tmp'));

function bytesOf(size: number, seed: number): Buffer {
  const data = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) data[i] = (i * 7 + seed) & 0xff;
  return data;
}

// The body in chunks of the given sizes (cycled), as a download delivers it.
async function* chunked(data: Buffer, sizes: number[]): AsyncIterable<Uint8Array> {
  for (let at = 0, i = 0; at < data.byteLength; i++) {
    const size = sizes[i % sizes.length]!;
    yield data.subarray(at, at + size);
    at += size;
  }
}

t.test('files of every shape arrive byte for byte, with their sha256, whatever the chunking', async (t) => {
  const disk = new DiskThread();
  t.teardown(() => disk.close());
  const root = t.testdir();
  const shapes: Array<[number, number[], boolean]> = [
    [0, [1], true],
    [1, [1], true],
    [300, [100], false],
    [512 * 1024, [64 * 1024], true],
    // a chunk straddles the end of the first 512 KiB batch while completing the file
    [600_000, [500_000, 100_000], true],
    [3 * 1024 * 1024 + 17, [65_536, 1_000_003, 7], true],
    [2_000_000, [65_536], false], // size unknown: 512 KiB batches, then an empty last one
    // chunks at every alignment (a body's first chunk starts after the headers), small ones among them: each
    // large one lands in its slot aligned like it, after a gap, so a batch holds several segments
    [1_500_000, [313, 65_222, 65_536, 17, 100_001, 3, 4_093], true],
    [1_500_000, [313, 65_222, 65_536, 17, 100_001, 3, 4_093], false],
    [524_288 * 2 + 5, [262_147, 255, 262_141], true],
  ];
  const results = await Promise.all(
    shapes.map(async ([size, sizes, known], i) => {
      const data = bytesOf(size, i);
      const temp = await disk.writeTemp(path.join(root, `f${i}`), chunked(data, sizes), { expectedSize: known ? size : undefined, root });
      const final = path.join(root, `f${i}`, `file-${i}.bin`);
      await disk.commitTemp(temp.tempPath, final);
      return { temp, data, final };
    }),
  );
  for (const { temp, data, final } of results) {
    t.same({ bytes: temp.bytes, sha256: temp.sha256 }, { bytes: data.byteLength, sha256: sha(data) }, `${data.byteLength} bytes`);
    t.ok((await fs.readFile(final)).equals(data), `${data.byteLength} bytes on disk`);
    t.same(await tempsIn(path.dirname(final)), [], 'no temp file left');
  }
});

t.test('a size mismatch or a failing body leaves no temp file; the error is the one writeTemp throws', async (t) => {
  const disk = new DiskThread();
  t.teardown(() => disk.close());
  const root = t.testdir();
  const data = bytesOf(700_000, 1);
  await t.rejects(disk.writeTemp(root, chunked(data, [65_536]), { expectedSize: 800_000 }), DownloadError, 'short body');
  await t.rejects(disk.writeTemp(root, chunked(data, [65_536]), { expectedSize: 600_000 }), DownloadError, 'long body');
  async function* broken(): AsyncIterable<Uint8Array> {
    yield data.subarray(0, 600_000);
    throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
  }
  await t.rejects(disk.writeTemp(root, broken(), { expectedSize: 700_000 }), { code: 'ECONNRESET' });
  const controller = new AbortController();
  async function* aborted(): AsyncIterable<Uint8Array> {
    yield data.subarray(0, 600_000);
    controller.abort(new Error('stop'));
    yield data.subarray(600_000);
  }
  await t.rejects(disk.writeTemp(root, aborted(), { expectedSize: 700_000, signal: controller.signal }), { message: 'stop' });
  let received = 0;
  await disk.writeTemp(root, chunked(data, [65_536]), { expectedSize: 700_000, onReceived: () => received++ });
  t.equal(received, 1, 'onReceived once the body is in');
  t.equal((await tempsIn(root)).length, 1, 'only the finished temp file is left');
});

t.test('a symlink at the final name is refused', async (t) => {
  const disk = new DiskThread();
  t.teardown(() => disk.close());
  const root = t.testdir({ target: 'keep' });
  const temp = await disk.writeTemp(root, chunked(bytesOf(10, 0), [10]), { expectedSize: 10 });
  await fs.symlink(path.join(root, 'target'), path.join(root, 'link'));
  await t.rejects(disk.commitTemp(temp.tempPath, path.join(root, 'link')), DownloadError);
  t.equal(await fs.readFile(path.join(root, 'target'), 'utf8'), 'keep', 'nothing written through the link');
  t.same(await tempsIn(root), [], 'the temp file is removed');
});

t.test('a full disk in the worker is DiskFullError, and no temp file is left', async (t) => {
  // Not t.testdir(): tap would remove it before a teardown could unmount the tmpfs inside it.
  const dir = mkdtempSync(path.join(tmpdir(), 'dps-disk-thread-'));
  const mounted = mountTmpfs(dir, '1m');
  t.teardown(() => {
    if (mounted) unmountTmpfs(dir);
    rmSync(dir, { recursive: true, force: true });
  });
  if (!mounted) {
    t.pass('skipped: cannot mount a tmpfs here (needs root)', { skip: true });
    return;
  }
  const disk = new DiskThread();
  t.teardown(() => disk.close());
  const error = await disk.writeTemp(dir, chunked(bytesOf(3_000_000, 3), [65_536]), { expectedSize: 3_000_000 }).catch((e: unknown) => e);
  t.type(error, DiskFullError);
  t.equal((error as DiskFullError).code, 'DPS_DISK_FULL');
  t.same(await tempsIn(dir), [], 'the partial temp file is removed');
  const small = await disk.writeTemp(dir, chunked(bytesOf(1000, 4), [1000]), { expectedSize: 1000 });
  t.equal(small.bytes, 1000, 'the space freed is usable again');
});

t.test('renames into one folder at once all land and are acknowledged', async (t) => {
  const disk = new DiskThread();
  t.teardown(() => disk.close());
  const root = t.testdir();
  const names = Array.from({ length: 40 }, (_, i) => `n${i}.bin`);
  await Promise.all(
    names.map(async (name, i) => {
      const temp = await disk.writeTemp(root, chunked(bytesOf(1000 + i, i), [333]), { expectedSize: 1000 + i });
      await disk.commitTemp(temp.tempPath, path.join(root, name));
    }),
  );
  t.same((await fs.readdir(root)).sort(), names.slice().sort());
});

t.test('many files at once, created here and through the pool, fsynced in groups: all land byte for byte', async (t) => {
  // slowOpenMs 0: every create made in the thread counts as slow, so after 32 of them the next 200 go through
  // libuv's pool, then 32 are made in the thread again, and so on. 450 files at once are also more than any
  // fsync group.
  const disk = new DiskThread({ slowOpenMs: 0 });
  t.teardown(() => disk.close());
  const root = t.testdir();
  const files = Array.from({ length: 450 }, (_, i) => bytesOf(100 + i, i));
  const written = await Promise.all(files.map((data, i) => disk.writeFile(root, chunked(data, [64]), path.join(root, `g${i}.bin`), { expectedSize: data.byteLength })));
  for (const [i, file] of written.entries()) {
    t.same(file, { bytes: files[i]!.byteLength, sha256: sha(files[i]!) }, `file ${i} hashed`);
    t.ok((await fs.readFile(path.join(root, `g${i}.bin`))).equals(files[i]!), `file ${i} byte for byte`);
  }
  t.same(await tempsIn(root), [], 'no temp file is left');
  // A failure still cleans up on either path.
  await t.rejects(disk.writeFile(root, chunked(bytesOf(10, 0), [10]), path.join(root, 'short.bin'), { expectedSize: 20 }), DownloadError);
  t.same(await tempsIn(root), [], 'nor after a failure');
});

t.test('a closed DiskThread refuses work instead of hanging', async (t) => {
  const disk = new DiskThread();
  const root = t.testdir();
  await disk.writeTemp(root, chunked(bytesOf(10, 0), [10]), { expectedSize: 10 });
  await disk.close();
  await t.rejects(disk.writeTemp(root, chunked(bytesOf(10, 0), [10]), { expectedSize: 10 }), { message: /closed/ });
  await disk.close();
});

t.test('more batches than shared slots: each waits for a slot, every file arrives intact, failures give theirs back', async (t) => {
  const disk = new DiskThread({ slots: 2 });
  t.teardown(() => disk.close());
  const root = t.testdir();
  // A slot lost by a failed file would leave later files waiting forever: fail a few first, with only 2 slots.
  for (let i = 0; i < 4; i++) {
    await t.rejects(disk.writeTemp(root, chunked(bytesOf(900_000, i), [65_536]), { expectedSize: 1_000_000 }), DownloadError, `short body ${i}`);
  }
  const files = Array.from({ length: 8 }, (_, i) => bytesOf(1_300_000 + i * 1_000, 10 + i));
  const temps = await Promise.all(files.map((data, i) => disk.writeTemp(path.join(root, `d${i}`), chunked(data, [65_536, 12_345]), { expectedSize: data.byteLength, root })));
  for (const [i, temp] of temps.entries()) {
    t.same({ bytes: temp.bytes, sha256: temp.sha256 }, { bytes: files[i]!.byteLength, sha256: sha(files[i]!) }, `file ${i} hashed`);
    t.ok((await fs.readFile(temp.tempPath)).equals(files[i]!), `file ${i} byte for byte`);
  }
  t.same(await tempsIn(root), [], 'the failed files left nothing');
});

t.test('writeFile: a file written and renamed in one request, its slot free before the folder fsync', async (t) => {
  const disk = new DiskThread({ slots: 2 });
  t.teardown(() => disk.close());
  const root = t.testdir({ target: 'keep' });
  // Many small files through 2 slots, each answered only after its folder's fsync: they must not wait for it.
  const files = Array.from({ length: 40 }, (_, i) => bytesOf(3_000 + i, i));
  const written = await Promise.all(files.map((data, i) => disk.writeFile(root, chunked(data, [1_000]), path.join(root, `f${i}.bin`), { expectedSize: data.byteLength })));
  for (const [i, file] of written.entries()) {
    t.same(file, { bytes: files[i]!.byteLength, sha256: sha(files[i]!) }, `file ${i} hashed`);
    t.ok((await fs.readFile(path.join(root, `f${i}.bin`))).equals(files[i]!), `file ${i} at its final name, byte for byte`);
  }
  await fs.symlink(path.join(root, 'target'), path.join(root, 'link'));
  await t.rejects(disk.writeFile(root, chunked(bytesOf(10, 0), [10]), path.join(root, 'link'), { expectedSize: 10 }), DownloadError, 'a symlink at the final name is refused');
  t.equal(await fs.readFile(path.join(root, 'target'), 'utf8'), 'keep', 'nothing written through the link');
  await t.rejects(disk.writeFile(root, chunked(bytesOf(10, 0), [10]), path.join(root, 'short.bin'), { expectedSize: 20 }), DownloadError, 'a short body is refused');
  await t.rejects(fs.lstat(path.join(root, 'short.bin')), { code: 'ENOENT' }, 'and never reaches its final name');
  t.same(await tempsIn(root), [], 'no temp file is left');
});

t.test('a final name held by another file is never replaced: taken, then committed under another name', async (t) => {
  const disk = new DiskThread();
  t.teardown(() => disk.close());
  const data = bytesOf(5_000, 3);
  const root = t.testdir({ 'held.bin': 'a user file', 'same.bin': data });
  const file = await disk.writeFile(root, chunked(data, [1_000]), path.join(root, 'held.bin'), { expectedSize: data.byteLength });
  t.equal(await fs.readFile(path.join(root, 'held.bin'), 'utf8'), 'a user file', 'the holder is untouched');
  t.ok(file.taken !== undefined && file.sha256 === sha(data), 'taken: the temp file is kept, hashed');
  t.equal(await disk.commitTemp(file.taken!, path.join(root, 'held.bin'), file.sha256), 'taken', 'a commit never replaces either');
  t.equal(await disk.commitTemp(file.taken!, path.join(root, 'next.bin'), file.sha256), 'placed');
  t.ok((await fs.readFile(path.join(root, 'next.bin'))).equals(data), 'under the next name, byte for byte');
  // The same bytes already under the name (a crashed run renamed them there): adopted, not duplicated.
  const again = await disk.writeFile(root, chunked(data, [1_000]), path.join(root, 'same.bin'), { expectedSize: data.byteLength });
  t.equal(again.taken, undefined, 'identical bytes are adopted');
  const kept = await disk.writeFile(root, chunked(bytesOf(10, 9), [10]), path.join(root, 'held.bin'), { expectedSize: 10 });
  await disk.discardTemp(kept.taken!);
  t.same(await tempsIn(root), [], 'no temp file is left');
});

// A channel folder swapped for a symlink to a folder outside the root after it was checked (issue 20, item 16).
t.test('a folder swapped for a symlink after its check: nothing is created through it, and it is checked afresh', async (t) => {
  const disk = new DiskThread();
  t.teardown(() => disk.close());
  const root = t.testdir({ archive: {}, outside: {} });
  const archive = path.join(root, 'archive');
  const outside = path.join(root, 'outside');
  const moved = path.join(root, 'moved');
  const dir = path.join(archive, 'Server_1', 'chan_2');
  const folders: FolderCache = new Map();
  const write = (name: string, size: number): Promise<unknown> => {
    const data = bytesOf(size, name.length);
    return disk.writeFile(dir, chunked(data, [1_000]), path.join(dir, name), { expectedSize: size, root: archive, folders });
  };
  await write('a.bin', 5_000);
  await fs.rename(dir, moved);
  await fs.symlink(outside, dir);
  // Several files at once into the swapped folder: each is refused before its temp file is created.
  const refused = await Promise.allSettled([write('b.bin', 3_000), write('c.bin', 700_000), write('d.bin', 10)]);
  for (const result of refused) t.match(result, { status: 'rejected', reason: { name: 'OutputUnsafeError', code: 'DPS_OUTPUT_UNSAFE' } }, 'refused: output_unsafe');
  t.same(await fs.readdir(outside), [], 'nothing at all was written outside the root');
  t.same(await fs.readdir(moved), ['a.bin'], 'the real folder holds only the file written before the swap');
  t.equal(folders.size, 1, 'the folder\'s recorded identity is kept: the next file is checked against it, the folder never made afresh');
  await t.rejects(write('e.bin', 10), { message: /symlink/ }, 'and is refused while it is a symlink');
  t.same(await fs.readdir(outside), [], 'still nothing outside');
  // Restored, the folder takes files again.
  await fs.unlink(dir);
  await fs.rename(moved, dir);
  await write('f.bin', 4_000);
  t.same((await fs.readdir(dir)).sort(), ['a.bin', 'f.bin']);
});

t.test('a folder swapped while a file is being written: the rename is refused, nothing lands outside the root', async (t) => {
  const disk = new DiskThread();
  t.teardown(() => disk.close());
  const root = t.testdir({ archive: {}, outside: {} });
  const archive = path.join(root, 'archive');
  const outside = path.join(root, 'outside');
  const moved = path.join(root, 'moved');
  const dir = path.join(archive, 'Server_1', 'chan_2');
  const folders: FolderCache = new Map();
  const data = bytesOf(1_000_000, 3);
  // The body's first 600,000 bytes fill one batch, whose temp file is created in the real folder; once it is
  // there, the folder is swapped, then the rest of the body arrives and the file is to be renamed.
  async function* body(): AsyncIterable<Uint8Array> {
    yield data.subarray(0, 600_000);
    while ((await tempsIn(dir)).length === 0) await new Promise((resolve) => setImmediate(resolve));
    await fs.rename(dir, moved);
    await fs.symlink(outside, dir);
    yield data.subarray(600_000);
  }
  await t.rejects(disk.writeFile(dir, body(), path.join(dir, 'big.bin'), { expectedSize: data.byteLength, root: archive, folders }), { name: 'OutputUnsafeError', message: /was replaced by a symlink; refusing to rename a file in it/ });
  t.same(await fs.readdir(outside), [], 'nothing at all was written outside the root');
  const left = await fs.readdir(moved);
  t.equal(left.length, 1, 'the temp file stays where it was created, in the real folder (it cannot be found by path)');
  t.ok(left[0]?.endsWith('.dps-tmp'), 'under a temp name, never the final one');
  // The next run removes it (removeStaleTemps), once the folder is back under the root.
  await fs.unlink(dir);
  await fs.rename(moved, dir);
  t.equal(await removeStaleTemps(archive), 1, 'the next run removes it');
  t.same(await fs.readdir(dir), []);
});
