// The durable write (lib/fs/disk-thread.ts): bodies hashed, written, fsynced and renamed by the worker thread;
// a crash, a full disk or an abort never leaves a half-written file under a final name, and no file is replaced.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import t from 'tap';
import type { Test } from 'tap';
import { DiskFullError, DownloadError } from '../../lib/errors.js';
import { DiskThread } from '../../lib/fs/disk-thread.js';
import { removeStaleTemps } from '../../lib/fs/atomic-write.js';
import { closeSidecar } from '../../lib/fs/sidecar-text.js';
import type { FolderCache } from '../../lib/fs/atomic-write.js';
import { mountTmpfs, unmountTmpfs } from '../helpers/tmpfs.js';

const sha = (data: Uint8Array | string): string => createHash('sha256').update(data).digest('hex');
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
      const final = path.join(root, `f${i}`, `file-${i}.bin`);
      const file = await disk.writeFile(path.dirname(final), chunked(data, sizes), final, { expectedSize: known ? size : undefined, root });
      return { file, data, final };
    }),
  );
  for (const { file, data, final } of results) {
    t.same(file, { bytes: data.byteLength, sha256: sha(data) }, `${data.byteLength} bytes`);
    t.ok((await fs.readFile(final)).equals(data), `${data.byteLength} bytes on disk`);
    t.same(await tempsIn(path.dirname(final)), [], 'no temp file left');
  }
});

t.test('slots beyond the first ones are added when that many batches are filled at once', async (t) => {
  const disk = new DiskThread({ slots: 50 });
  t.teardown(() => disk.close());
  const root = t.testdir();
  const files = 48; // more than the slots allocated at first: each holds one while its batch waits for more bytes
  let arrived = 0;
  let release: () => void = () => undefined;
  const barrier = new Promise<void>((resolve) => (release = resolve));
  async function* held(data: Buffer): AsyncIterable<Uint8Array> {
    yield data.subarray(0, 100);
    if (++arrived === files) release();
    await barrier; // every file has a batch under way before any gets the rest of its bytes
    yield data.subarray(100);
  }
  const results = await Promise.all(
    Array.from({ length: files }, async (_, i) => {
      const data = bytesOf(1000, i);
      const final = path.join(root, `h${i}`, `held-${i}.bin`);
      const file = await disk.writeFile(path.dirname(final), held(data), final, { expectedSize: data.byteLength, root });
      return { file, data, final };
    }),
  );
  for (const { file, data, final } of results) {
    t.equal(file.sha256, sha(data));
    t.ok((await fs.readFile(final)).equals(data));
  }
});

t.test('bodies of every kind: async iterables, Node streams, string chunks; the folder is created', async (t) => {
  const disk = new DiskThread();
  t.teardown(() => disk.close());
  const root = t.testdir();
  const dir = path.join(root, 'Server_1', 'chan_2');
  const file = await disk.writeFile(dir, Readable.from(['hello ', 'world']), path.join(dir, 'a.txt'), { root });
  t.same(file, { bytes: 11, sha256: sha('hello world') });
  t.equal(await fs.readFile(path.join(dir, 'a.txt'), 'utf8'), 'hello world');
  t.same(await tempsIn(dir), []);
});

t.test('a size mismatch, a failing body or an abort leaves no temp file and no final name', async (t) => {
  const disk = new DiskThread();
  t.teardown(() => disk.close());
  const root = t.testdir();
  const data = bytesOf(700_000, 1);
  const final = path.join(root, 'file.bin');
  const mismatch = { name: 'DownloadError', code: 'DPS_DOWNLOAD', retryable: true, reason: 'size_mismatch' };
  await t.rejects(
    disk.writeFile(root, chunked(data, [65_536]), final, { expectedSize: 800_000 }),
    { ...mismatch, message: /received 700000 of 800000/ },
    'short body',
  );
  await t.rejects(disk.writeFile(root, chunked(data, [65_536]), final, { expectedSize: 600_000 }), { ...mismatch, message: /more than/ }, 'long body');
  async function* broken(): AsyncIterable<Uint8Array> {
    yield data.subarray(0, 600_000);
    throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
  }
  await t.rejects(
    disk.writeFile(root, broken(), final, { expectedSize: 700_000 }),
    { message: 'socket hang up', code: 'ECONNRESET' },
    "the body's error, unchanged",
  );
  const controller = new AbortController();
  async function* aborted(): AsyncIterable<Uint8Array> {
    yield data.subarray(0, 600_000);
    controller.abort(new Error('stop'));
    yield data.subarray(600_000);
  }
  await t.rejects(disk.writeFile(root, aborted(), final, { expectedSize: 700_000, signal: controller.signal }), { message: 'stop' });
  const reason = new Error('stopped before');
  await t.rejects(disk.writeFile(root, chunked(data, [65_536]), final, { signal: AbortSignal.abort(reason) }), reason, 'aborted before start');
  t.notOk(existsSync(final), 'nothing under the final name');
  t.same(await tempsIn(root), [], 'no temp file is left');
});

t.test('an abort while the body stalls destroys the body and throws the reason', async (t) => {
  const disk = new DiskThread();
  t.teardown(() => disk.close());
  const root = t.testdir();
  const controller = new AbortController();
  const reason = new Error('stop');
  let sent = 0;
  const body = new Readable({
    read() {
      sent++;
      if (sent === 3) {
        controller.abort(reason);
        return; // a stalled body: only the signal can end this
      }
      this.push(Buffer.alloc(1024, 1));
    },
  });
  await t.rejects(disk.writeFile(root, body, path.join(root, 'a.bin'), { signal: controller.signal, expectedSize: 1 << 20 }), reason);
  t.ok(body.destroyed, 'the body was destroyed');
  t.same(await tempsIn(root), []);
});

t.test('onReceived: once every byte is in, before writeFile resolves; never when the body fails', async (t) => {
  const disk = new DiskThread();
  t.teardown(() => disk.close());
  const root = t.testdir();
  let received = 0;
  let pulled = 0;
  async function* body(): AsyncIterable<Uint8Array> {
    for (let i = 0; i < 4; i++) {
      t.equal(received, 0, `not reported while chunk ${i} is pending`);
      pulled++;
      yield new Uint8Array(1000).fill(i);
    }
  }
  const file = await disk.writeFile(root, body(), path.join(root, 'a.bin'), { expectedSize: 4000, onReceived: () => received++ });
  t.equal(pulled, 4);
  t.equal(received, 1, 'reported exactly once');
  t.equal(file.bytes, 4000);
  let failed = 0;
  await t.rejects(
    disk.writeFile(root, chunked(bytesOf(20, 0), [10]), path.join(root, 'b.bin'), { expectedSize: 30, onReceived: () => failed++ }),
    DownloadError,
  );
  t.equal(failed, 0, 'a short body is not "received"');
});

t.test('folders: symlinks on the way and paths outside the root are refused; a symlinked root is fine', async (t) => {
  const disk = new DiskThread();
  t.teardown(() => disk.close());
  const root = t.testdir({ outside: {}, archive: { real: {} } });
  const archive = path.join(root, 'archive');
  const write = (dir: string, base = archive): Promise<unknown> => disk.writeFile(dir, chunked(bytesOf(3, 0), [3]), path.join(dir, 'a.bin'), { root: base });
  await fs.symlink(path.join(root, 'outside'), path.join(archive, 'link'));
  // Unsafe output, as a folder swapped during the run is: reason output_unsafe and the run stops (issue 20, item 16).
  await t.rejects(write(path.join(archive, 'link', 'sub')), { code: 'DPS_OUTPUT_UNSAFE', message: /symlink/ });
  t.same(await fs.readdir(path.join(root, 'outside')), [], 'nothing written through the link');
  await t.rejects(write(path.join(root, 'outside')), { message: /not inside/ });
  await write(path.join(archive, '..foo'));
  t.ok(existsSync(path.join(archive, '..foo', 'a.bin')), '`..foo` is a name, not an escape');
  await fs.symlink(archive, path.join(root, 'alias'));
  await write(path.join(root, 'alias', 'real', 'deeper'), path.join(root, 'alias'));
  t.ok(existsSync(path.join(archive, 'real', 'deeper', 'a.bin')), "a symlinked root is the user's choice");
});

t.test('a full disk (ENOSPC, EDQUOT) becomes DiskFullError, with its cause, and leaves no temp file', async (t) => {
  const disk = new DiskThread();
  t.teardown(() => disk.close());
  const root = t.testdir();
  for (const code of ['ENOSPC', 'EDQUOT']) {
    async function* failing(): AsyncIterable<Uint8Array> {
      yield new Uint8Array(10);
      throw Object.assign(new Error('write failed'), { code });
    }
    const error = await disk.writeFile(root, failing(), path.join(root, 'a.bin')).catch((e: unknown) => e);
    t.type(error, DiskFullError, code);
    t.match(error, { code: 'DPS_DISK_FULL', cause: { code } });
  }
  t.same(await tempsIn(root), []);
});

t.test('/dev/full reports ENOSPC as DiskFullError', { skip: !existsSync('/dev/full') && 'no /dev/full' }, async (t) => {
  const disk = new DiskThread();
  t.teardown(() => disk.close());
  async function* viaDevFull(): AsyncIterable<Uint8Array> {
    yield new Uint8Array(1);
    const full = await fs.open('/dev/full', 'w');
    try {
      await full.write(new Uint8Array(1));
    } finally {
      await full.close();
    }
  }
  const root = t.testdir();
  await t.rejects(disk.writeFile(root, viaDevFull(), path.join(root, 'a.bin')), DiskFullError);
});

t.test('a symlink at the final name is refused', async (t) => {
  const disk = new DiskThread();
  t.teardown(() => disk.close());
  const root = t.testdir({ target: 'keep', 'held.bin': 'other' });
  const temp = await disk.writeFile(root, chunked(bytesOf(10, 0), [10]), path.join(root, 'held.bin'), { expectedSize: 10 });
  await fs.symlink(path.join(root, 'target'), path.join(root, 'link'));
  await t.rejects(disk.commitTemp(temp.taken!, path.join(root, 'link')), { name: 'DownloadError', retryable: false, message: /refusing to replace symlink/ });
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
  const error = await disk
    .writeFile(dir, chunked(bytesOf(3_000_000, 3), [65_536]), path.join(dir, 'big.bin'), { expectedSize: 3_000_000 })
    .catch((e: unknown) => e);
  t.type(error, DiskFullError);
  t.match(error, { code: 'DPS_DISK_FULL', cause: { code: 'ENOSPC' } }, 'the system error is kept as the cause, across the thread');
  t.same(await tempsIn(dir), [], 'the partial temp file is removed');
  const small = await disk.writeFile(dir, chunked(bytesOf(1000, 4), [1000]), path.join(dir, 'small.bin'), { expectedSize: 1000 });
  t.equal(small.bytes, 1000, 'the space freed is usable again');
});

t.test('renames into one folder at once all land and are acknowledged', async (t) => {
  const disk = new DiskThread();
  t.teardown(() => disk.close());
  const root = t.testdir();
  const names = Array.from({ length: 40 }, (_, i) => `n${i}.bin`);
  await Promise.all(
    names.map(async (name, i) => {
      await disk.writeFile(root, chunked(bytesOf(1000 + i, i), [333]), path.join(root, name), { expectedSize: 1000 + i });
    }),
  );
  t.same((await fs.readdir(root)).sort(), names.slice().sort());
  for (const [i, name] of names.entries()) t.equal((await fs.stat(path.join(root, name))).size, 1000 + i);
});

t.test('many files at once, created here and through the pool, fsynced in groups: all land byte for byte', async (t) => {
  // slowOpenMs 0: every create made in the thread counts as slow, so after 32 of them the next 200 go through
  // libuv's pool, then 32 are made in the thread again, and so on. 450 files at once are also more than any
  // fsync group.
  const disk = new DiskThread({ slowOpenMs: 0 });
  t.teardown(() => disk.close());
  const root = t.testdir();
  const files = Array.from({ length: 450 }, (_, i) => bytesOf(100 + i, i));
  const written = await Promise.all(
    files.map((data, i) => disk.writeFile(root, chunked(data, [64]), path.join(root, `g${i}.bin`), { expectedSize: data.byteLength })),
  );
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
  await disk.writeFile(root, chunked(bytesOf(10, 0), [10]), path.join(root, 'a.bin'), { expectedSize: 10 });
  await disk.close();
  await t.rejects(disk.writeFile(root, chunked(bytesOf(10, 0), [10]), path.join(root, 'b.bin'), { expectedSize: 10 }), { message: /closed/ });
  await disk.close();
});

t.test('more batches than shared slots: each waits for a slot, every file arrives intact, failures give theirs back', async (t) => {
  const disk = new DiskThread({ slots: 2 });
  t.teardown(() => disk.close());
  const root = t.testdir();
  // A slot lost by a failed file would leave later files waiting forever: fail a few first, with only 2 slots.
  for (let i = 0; i < 4; i++) {
    await t.rejects(
      disk.writeFile(root, chunked(bytesOf(900_000, i), [65_536]), path.join(root, 'short.bin'), { expectedSize: 1_000_000 }),
      DownloadError,
      `short body ${i}`,
    );
  }
  const files = Array.from({ length: 8 }, (_, i) => bytesOf(1_300_000 + i * 1_000, 10 + i));
  const final = (i: number): string => path.join(root, `d${i}`, 'file.bin');
  const written = await Promise.all(
    files.map((data, i) => disk.writeFile(path.dirname(final(i)), chunked(data, [65_536, 12_345]), final(i), { expectedSize: data.byteLength, root })),
  );
  for (const [i, file] of written.entries()) {
    t.same(file, { bytes: files[i]!.byteLength, sha256: sha(files[i]!) }, `file ${i} hashed`);
    t.ok((await fs.readFile(final(i))).equals(files[i]!), `file ${i} byte for byte`);
  }
  t.same(await tempsIn(root), [], 'the failed files left nothing');
});

t.test('writeFile: a file written and renamed in one request, its slot free before the folder fsync', async (t) => {
  const disk = new DiskThread({ slots: 2 });
  t.teardown(() => disk.close());
  const root = t.testdir({ target: 'keep' });
  // Many small files through 2 slots, each answered only after its folder's fsync: they must not wait for it.
  const files = Array.from({ length: 40 }, (_, i) => bytesOf(3_000 + i, i));
  const written = await Promise.all(
    files.map((data, i) => disk.writeFile(root, chunked(data, [1_000]), path.join(root, `f${i}.bin`), { expectedSize: data.byteLength })),
  );
  for (const [i, file] of written.entries()) {
    t.same(file, { bytes: files[i]!.byteLength, sha256: sha(files[i]!) }, `file ${i} hashed`);
    t.ok((await fs.readFile(path.join(root, `f${i}.bin`))).equals(files[i]!), `file ${i} at its final name, byte for byte`);
  }
  await fs.symlink(path.join(root, 'target'), path.join(root, 'link'));
  await t.rejects(
    disk.writeFile(root, chunked(bytesOf(10, 0), [10]), path.join(root, 'link'), { expectedSize: 10 }),
    DownloadError,
    'a symlink at the final name is refused',
  );
  t.equal(await fs.readFile(path.join(root, 'target'), 'utf8'), 'keep', 'nothing written through the link');
  await t.rejects(
    disk.writeFile(root, chunked(bytesOf(10, 0), [10]), path.join(root, 'short.bin'), { expectedSize: 20 }),
    DownloadError,
    'a short body is refused',
  );
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

// A disk thread and a root holding an archive and a folder outside it, for the folder-swap tests: the channel
// folder `dir` in the archive, and where it is moved to (`moved`).
function swapWorld(t: Test) {
  const disk = new DiskThread();
  t.teardown(() => disk.close());
  const root = t.testdir({ archive: {}, outside: {} });
  const archive = path.join(root, 'archive');
  const outside = path.join(root, 'outside');
  const moved = path.join(root, 'moved');
  const dir = path.join(archive, 'Server_1', 'chan_2');
  // `data` as a body: its first 600,000 bytes (one batch, whose temp file is created in the real folder), then,
  // once that temp file is there, the folder swapped for a symlink to `outside`, then the rest.
  async function* swappingBody(data: Buffer): AsyncIterable<Uint8Array> {
    yield data.subarray(0, 600_000);
    while ((await tempsIn(dir)).length === 0) await new Promise((resolve) => setImmediate(resolve));
    await fs.rename(dir, moved);
    await fs.symlink(outside, dir);
    yield data.subarray(600_000);
  }
  return { disk, root, archive, outside, moved, dir, swappingBody };
}

// A channel folder swapped for a symlink to a folder outside the root after it was checked (issue 20, item 16).
t.test('a folder swapped for a symlink after its check: nothing is created through it, and it is checked afresh', async (t) => {
  const { disk, archive, outside, moved, dir } = swapWorld(t);
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
  for (const result of refused)
    t.match(result, { status: 'rejected', reason: { name: 'OutputUnsafeError', code: 'DPS_OUTPUT_UNSAFE' } }, 'refused: output_unsafe');
  t.same(await fs.readdir(outside), [], 'nothing at all was written outside the root');
  t.same(await fs.readdir(moved), ['a.bin'], 'the real folder holds only the file written before the swap');
  t.equal(folders.size, 1, "the folder's recorded identity is kept: the next file is checked against it, the folder never made afresh");
  await t.rejects(write('e.bin', 10), { message: /symlink/ }, 'and is refused while it is a symlink');
  t.same(await fs.readdir(outside), [], 'still nothing outside');
  // Restored, the folder takes files again.
  await fs.unlink(dir);
  await fs.rename(moved, dir);
  await write('f.bin', 4_000);
  t.same((await fs.readdir(dir)).sort(), ['a.bin', 'f.bin']);
});

t.test('a folder swapped while a file is being written: the rename is refused, nothing lands outside the root', async (t) => {
  const { disk, archive, outside, moved, dir, swappingBody } = swapWorld(t);
  const folders: FolderCache = new Map();
  const data = bytesOf(1_000_000, 3);
  // The body's first 600,000 bytes fill one batch, whose temp file is created in the real folder; once it is
  // there, the folder is swapped, then the rest of the body arrives and the file is to be renamed.
  await t.rejects(disk.writeFile(dir, swappingBody(data), path.join(dir, 'big.bin'), { expectedSize: data.byteLength, root: archive, folders }), {
    name: 'OutputUnsafeError',
    message: /was replaced by a symlink; refusing to rename a file in it/,
  });
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

// File times (issue 23): the post time is set on the temp file, before it has a final name.
t.test('mtimeMs: every file has those times (atime and mtime, to the ms) the moment it has a final name', async (t) => {
  const disk = new DiskThread();
  t.teardown(() => disk.close());
  const root = t.testdir({ 'held.bin': 'a user file' });
  const post = Date.UTC(2021, 4, 6, 7, 8, 9, 123);
  const ns = BigInt(post) * 1_000_000n;
  const timesOf = async (file: string): Promise<bigint[]> => {
    const stat = await fs.lstat(file, { bigint: true });
    return [stat.mtimeNs, stat.atimeNs];
  };
  for (const size of [0, 1, 3_000, 1_300_000]) {
    const data = bytesOf(size, size);
    const final = path.join(root, `f${size}.bin`);
    await disk.writeFile(root, chunked(data, [700_000]), final, { expectedSize: size, mtimeMs: post + size });
    t.same(await timesOf(final), [ns + BigInt(size) * 1_000_000n, ns + BigInt(size) * 1_000_000n], `${size} bytes: the post time`);
  }
  // A taken name leaves the temp file: it already has its times, so whatever name it gets, it arrives with them.
  const file = await disk.writeFile(root, chunked(bytesOf(10, 1), [10]), path.join(root, 'held.bin'), { expectedSize: 10, mtimeMs: post });
  t.same(await timesOf(file.taken!), [ns, ns], 'set before any rename');
  t.equal(await disk.commitTemp(file.taken!, path.join(root, 'next.bin'), file.sha256), 'placed');
  t.same(await timesOf(path.join(root, 'next.bin')), [ns, ns], 'kept through the commit');
  const started = Date.now();
  await disk.writeFile(root, chunked(bytesOf(10, 2), [10]), path.join(root, 'now.bin'), { expectedSize: 10 });
  t.ok((await fs.lstat(path.join(root, 'now.bin'))).mtimeMs >= started - 2_000, 'without mtimeMs: the time it was written');
});

// --write-metadata (issue 23): a file's sidecar written in the file's own request (sidecarHead), fsynced with
// the file, or deferred (sidecarDevice: no fsync of its own, written and linked right after the file's link).
const devOf = async (dir: string): Promise<string> => String((await fs.stat(dir, { bigint: true })).dev);
for (const deferred of [false, true]) {
  const mode = deferred ? ' (deferred)' : '';
  t.test(`sidecarHead${mode}: the sidecar lands complete with the file; never over another file, a symlink, or beside a taken name`, async (t) => {
    const disk = new DiskThread();
    t.teardown(() => disk.close());
    const root = t.testdir({ 'held.bin': 'a user file', 'theirs.bin.json': 'user data', outside: {} });
    await fs.symlink(path.join(root, 'outside', 'target.json'), path.join(root, 'link.bin.json'));
    const folders: FolderCache = new Map();
    const dev = deferred ? await devOf(root) : undefined;
    const head = JSON.stringify({ message_id: '1', note: 'a "quoted" 😀 text' }, null, 2).slice(0, -2);
    const data = bytesOf(70_000, 5);
    const final = path.join(root, 'sub', 'pic "1".bin');
    const file = await disk.writeFile(path.dirname(final), chunked(data, [10_000]), final, {
      root,
      folders,
      expectedSize: data.byteLength,
      sidecarHead: head,
      sidecarDevice: dev,
    });
    t.equal(file.sidecar, true);
    const text = await fs.readFile(`${final}.json`, 'utf8');
    t.equal(text, closeSidecar(head, final, sha(data), data.byteLength), 'the head ended with the path, sha256 and size');
    t.same(JSON.parse(text), { message_id: '1', note: 'a "quoted" 😀 text', path: final, sha256: sha(data), bytes: data.byteLength });
    t.ok((await fs.readFile(final)).equals(data), 'and the file, byte for byte');

    const theirs = await disk.writeFile(root, [Buffer.from('abc')], path.join(root, 'theirs.bin'), { root, folders, sidecarHead: head, sidecarDevice: dev });
    t.equal(theirs.sidecar, undefined, 'a file at the sidecar name: no sidecar');
    t.equal(await fs.readFile(path.join(root, 'theirs.bin.json'), 'utf8'), 'user data', 'never replaced');
    t.equal(await fs.readFile(path.join(root, 'theirs.bin'), 'utf8'), 'abc', 'the file is written all the same');

    const linked = await disk.writeFile(root, [Buffer.from('def')], path.join(root, 'link.bin'), { root, folders, sidecarHead: head, sidecarDevice: dev });
    t.equal(linked.sidecar, undefined, 'a symlink at the sidecar name: no sidecar');
    t.notOk(existsSync(path.join(root, 'outside', 'target.json')), 'nothing written through it');

    const taken = await disk.writeFile(root, [Buffer.from('ghi')], path.join(root, 'held.bin'), { root, folders, sidecarHead: head, sidecarDevice: dev });
    t.ok(taken.taken !== undefined, 'the file name is taken');
    t.equal(taken.sidecar, undefined);
    t.notOk(existsSync(path.join(root, 'held.bin.json')), 'no sidecar beside a file that is not ours');
    await disk.discardTemp(taken.taken!);
    t.same([...(await tempsIn(root)), ...(await tempsIn(path.join(root, 'sub')))], [], 'no temp file is left');
  });

  t.test(`sidecarHead${mode}: a folder swapped while the file is being written: neither the file nor its sidecar lands anywhere`, async (t) => {
    const { disk, archive, outside, moved, dir, swappingBody } = swapWorld(t);
    const dev = deferred ? await devOf(archive) : undefined;
    const data = bytesOf(1_000_000, 4);
    const options = { expectedSize: data.byteLength, root: archive, folders: new Map() as FolderCache, sidecarHead: '{\n  "a": 1', sidecarDevice: dev };
    await t.rejects(disk.writeFile(dir, swappingBody(data), path.join(dir, 'big.bin'), options), { name: 'OutputUnsafeError' });
    t.same(await fs.readdir(outside), [], 'nothing at all was written outside the root');
    const left = await fs.readdir(moved);
    t.equal(left.length, 1, "only the file's temp file stays, in the real folder: the sidecar's is removed");
    t.ok(left[0]?.endsWith('.dps-tmp'));
  });

  // A kill at any point of a sidecar's write: the worker stops (DiskWorkerData.pause) before and after each link,
  // the file's then the sidecar's. At each stop the sidecar's final name is absent or holds the whole text; the
  // worker is then terminated between the two links (as a kill -9 would stop it): the next run's sweep leaves the
  // file and no trace of the sidecar.
  t.test(`sidecarHead${mode}: killed between any two steps, the sidecar name never holds less than the whole sidecar`, async (t) => {
    const root = t.testdir({ archive: {} });
    const archive = path.join(root, 'archive');
    const dev = deferred ? await devOf(archive) : undefined;
    const dir = path.join(archive, 'Server_1', 'chan_2');
    const shared = new SharedArrayBuffer(4);
    const pause = new Int32Array(shared);
    const disk = new DiskThread({ pause: shared });
    t.teardown(() => disk.close());
    const data = Buffer.from('the bytes of a.bin');
    const final = path.join(dir, 'a.bin');
    const head = JSON.stringify({ message_id: '1', content: 'x'.repeat(5_000) }, null, 2).slice(0, -2);
    const whole = closeSidecar(head, final, sha(data), data.byteLength);
    const writing = disk.writeFile(dir, [data], final, {
      expectedSize: data.byteLength,
      root: archive,
      folders: new Map(),
      sidecarHead: head,
      sidecarDevice: dev,
    });
    let settled = false;
    writing.then(
      () => (settled = true),
      () => (settled = true),
    );
    const stop = async (point: number): Promise<void> => {
      while (Atomics.load(pause, 0) !== point) {
        if (settled) throw new Error(`the write ended before pause point ${point}`);
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    };
    const resume = (): void => {
      Atomics.store(pause, 0, 0);
      Atomics.notify(pause, 0);
    };
    const sidecarNow = async (): Promise<string | undefined> => fs.readFile(`${final}.json`, 'utf8').catch(() => undefined);
    await stop(1); // the file's link next
    t.equal(await sidecarNow(), undefined);
    resume();
    await stop(2); // the file linked
    t.equal(await sidecarNow(), undefined);
    resume();
    await stop(1); // the sidecar's link next: its temp file holds the whole text already
    t.equal(await sidecarNow(), undefined, 'not yet under its name');
    const temps = await tempsIn(dir);
    t.equal(temps.length, 1);
    t.equal(await fs.readFile(path.join(dir, temps[0]!), 'utf8'), whole, 'its temp file is complete before the link');
    await disk.close(); // killed here (the worker waits at the pause: it is terminated there)
    t.equal(await removeStaleTemps(archive), 1, "the next run sweeps the sidecar's temp file");
    t.same(await fs.readdir(dir), ['a.bin'], 'the file, and no sidecar: the metadata stage writes it on the next run');

    // The same write run through: linked, the name holds the whole sidecar.
    const again = new DiskThread();
    t.teardown(() => again.close());
    const other = path.join(dir, 'b.bin');
    const done = await again.writeFile(dir, [data], other, {
      expectedSize: data.byteLength,
      root: archive,
      folders: new Map(),
      sidecarHead: head,
      sidecarDevice: dev,
    });
    t.equal(done.sidecar, true);
    t.equal(await fs.readFile(`${other}.json`, 'utf8'), closeSidecar(head, other, sha(data), data.byteLength));
  });
}
