import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import t from 'tap';
import { DiskFullError, DownloadError } from '../../lib/errors.js';
import { commitTemp, discardTemp, fileMatches, linkDuplicate, removeStaleTemps, writeFile, writeTemp } from '../../lib/fs/atomic-write.js';
import type { FolderCache } from '../../lib/fs/atomic-write.js';

const sha = (data: Uint8Array | string): string => createHash('sha256').update(data).digest('hex');

async function* chunks(count: number, size: number): AsyncIterable<Uint8Array> {
  for (let i = 0; i < count; i++) yield new Uint8Array(size).fill(i % 256);
}

function expectedOf(count: number, size: number): { bytes: number; sha256: string } {
  const hash = createHash('sha256');
  for (let i = 0; i < count; i++) hash.update(new Uint8Array(size).fill(i % 256));
  return { bytes: count * size, sha256: hash.digest('hex') };
}

const tempsIn = async (dir: string): Promise<string[]> => (await fs.readdir(dir)).filter((n) => n.endsWith('.dps-tmp'));

t.test('writeTemp streams, hashes and creates the directory', async (t) => {
  const root = t.testdir();
  const dir = path.join(root, 'Server_1', 'chan_2');
  const result = await writeTemp(dir, chunks(64, 16 * 1024), { expectedSize: 64 * 16 * 1024, root });
  t.same({ bytes: result.bytes, sha256: result.sha256 }, expectedOf(64, 16 * 1024));
  t.equal(path.dirname(result.tempPath), dir);
  t.match(path.basename(result.tempPath), /^\.[0-9a-f]{24}\.dps-tmp$/);
  t.equal((await fs.stat(result.tempPath)).size, result.bytes);
  t.equal(sha(await fs.readFile(result.tempPath)), result.sha256);
  // Node streams (and string chunks) work too.
  const other = await writeTemp(dir, Readable.from(['hello ', 'world']), {});
  t.equal(other.sha256, sha('hello world'));
  t.equal(other.bytes, 11);
});

t.test('writeTemp respects backpressure: the body is pulled as the file is written', async (t) => {
  const root = t.testdir();
  let produced = 0;
  let maxAhead = 0;
  let written = 0;
  async function* body(): AsyncIterable<Uint8Array> {
    for (let i = 0; i < 200; i++) {
      produced++;
      maxAhead = Math.max(maxAhead, produced - written);
      yield new Uint8Array(64 * 1024);
      written++;
    }
  }
  const result = await writeTemp(root, body(), {});
  t.equal(result.bytes, 200 * 64 * 1024);
  t.ok(maxAhead <= 2, `never more than a chunk ahead (${maxAhead})`);
});

t.test('writeTemp size mismatch removes the temp file', async (t) => {
  const root = t.testdir();
  await t.rejects(writeTemp(root, chunks(2, 10), { expectedSize: 30 }), DownloadError);
  await t.rejects(writeTemp(root, chunks(2, 10), { expectedSize: 30 }), {
    code: 'DPS_DOWNLOAD',
    retryable: true,
    reason: 'size_mismatch',
    message: /size mismatch/,
  });
  await t.rejects(writeTemp(root, chunks(4, 10), { expectedSize: 30 }), {
    code: 'DPS_DOWNLOAD',
    retryable: true,
    reason: 'size_mismatch',
    message: /more than/,
  });
  t.same(await tempsIn(root), []);
});

t.test('writeTemp abort mid-stream removes the temp file and throws the reason', async (t) => {
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
  const write = writeTemp(root, body, { signal: controller.signal, expectedSize: 1 << 20 });
  await t.rejects(write, reason);
  t.same(await tempsIn(root), []);
  t.ok(body.destroyed, 'the body was destroyed');
  await t.rejects(writeTemp(root, chunks(1, 1), { signal: AbortSignal.abort(reason) }), reason, 'aborted before start');
  t.same(await tempsIn(root), []);
});

t.test('writeTemp refuses symlinked directories and paths outside the root', async (t) => {
  const root = t.testdir({ outside: {}, archive: { real: {} } });
  const archive = path.join(root, 'archive');
  await fs.symlink(path.join(root, 'outside'), path.join(archive, 'link'));
  // Unsafe output, as a folder swapped during the run is: reason output_unsafe and the run stops (issue 20, item 16).
  await t.rejects(writeTemp(path.join(archive, 'link', 'sub'), chunks(1, 1), { root: archive }), {
    code: 'DPS_OUTPUT_UNSAFE',
    message: /symlink/,
  });
  t.same(await fs.readdir(path.join(root, 'outside')), [], 'nothing written through the link');
  await t.rejects(writeTemp(path.join(root, 'outside'), chunks(1, 1), { root: archive }), { message: /not inside/ });
  t.equal((await writeTemp(path.join(archive, '..foo'), chunks(1, 1), { root: archive })).bytes, 1, '`..foo` is a name, not an escape');
  // A symlinked root is the user's choice and is fine.
  await fs.symlink(archive, path.join(root, 'alias'));
  const ok = await writeTemp(path.join(root, 'alias', 'real', 'deeper'), chunks(1, 3), { root: path.join(root, 'alias') });
  t.equal(ok.bytes, 3);
});

t.test('a full disk becomes DiskFullError and leaves no temp file', async (t) => {
  const root = t.testdir();
  async function* failing(): AsyncIterable<Uint8Array> {
    yield new Uint8Array(10);
    throw Object.assign(new Error('write failed'), { code: 'ENOSPC' });
  }
  const error = await writeTemp(root, failing(), {}).catch((e: unknown) => e);
  t.type(error, DiskFullError);
  t.equal((error as DiskFullError).code, 'DPS_DISK_FULL');
  t.same(await tempsIn(root), []);
  const quota = await writeTemp(root, failing2(), {}).catch((e: unknown) => e);
  t.type(quota, DiskFullError);
  async function* failing2(): AsyncIterable<Uint8Array> {
    yield new Uint8Array(1);
    throw Object.assign(new Error('quota'), { code: 'EDQUOT' });
  }
});

t.test('/dev/full reports ENOSPC as DiskFullError', { skip: !existsSync('/dev/full') && 'no /dev/full' }, async (t) => {
  // commitTemp/linkDuplicate translate too; here we check the real errno path through a real write.
  const handle = await fs.open('/dev/full', 'w');
  const error = await handle.write(new Uint8Array(4096)).catch((e: unknown) => e);
  await handle.close();
  t.equal((error as { code?: string }).code, 'ENOSPC');
  async function* viaDevFull(): AsyncIterable<Uint8Array> {
    yield new Uint8Array(1);
    const full = await fs.open('/dev/full', 'w');
    try {
      await full.write(new Uint8Array(1));
    } finally {
      await full.close();
    }
  }
  await t.rejects(writeTemp(t.testdir(), viaDevFull(), {}), DiskFullError);
});

t.test('commitTemp renames, never replaces, adopts identical bytes, refuses symlinks', async (t) => {
  const root = t.testdir({ 'old.png': 'old bytes', 'same.png': 'new', target: 'do not touch' });
  const first = await writeTemp(root, chunks(1, 5), {});
  const final = path.join(root, 'a.png');
  t.equal(await commitTemp(first.tempPath, final), 'placed');
  t.equal((await fs.stat(final)).size, 5);
  t.notOk(existsSync(first.tempPath));
  // Another file holds the name: it is never replaced, and the temp file stays for the next candidate name.
  const second = await writeTemp(root, Readable.from(['new']), {});
  t.equal(await commitTemp(second.tempPath, path.join(root, 'old.png'), second.sha256), 'taken');
  t.equal(await fs.readFile(path.join(root, 'old.png'), 'utf8'), 'old bytes', 'the holder is untouched');
  t.ok(existsSync(second.tempPath), 'the temp file is kept');
  // A file with exactly these bytes (a crashed run renamed it there) is adopted.
  t.equal(await commitTemp(second.tempPath, path.join(root, 'same.png')), 'placed');
  t.notOk(existsSync(second.tempPath));
  t.equal(await fs.readFile(path.join(root, 'same.png'), 'utf8'), 'new');
  // Never through a symlink.
  await fs.symlink(path.join(root, 'target'), path.join(root, 'evil.png'));
  const third = await writeTemp(root, Readable.from(['x']), {});
  await t.rejects(commitTemp(third.tempPath, path.join(root, 'evil.png')), { code: 'DPS_DOWNLOAD', message: /symlink/ });
  t.equal(await fs.readFile(path.join(root, 'target'), 'utf8'), 'do not touch');
  t.same(await tempsIn(root), [], 'refused temp removed');
});

t.test('linkDuplicate hard-links, is idempotent, replaces other files', async (t) => {
  const root = t.testdir({ 'first.png': 'same bytes', 'taken.png': 'stale', target: 'keep' });
  const first = path.join(root, 'first.png');
  const dup = path.join(root, 'dup.png');
  t.equal(await linkDuplicate(first, dup), 'linked');
  const [a, b] = await Promise.all([fs.stat(first), fs.stat(dup)]);
  t.equal(a.ino, b.ino, 'same inode');
  t.equal(a.nlink, 2);
  t.equal(await linkDuplicate(first, dup), 'linked', 'already linked is fine');
  t.equal(await linkDuplicate(first, path.join(root, 'taken.png')), 'linked');
  t.equal(await fs.readFile(path.join(root, 'taken.png'), 'utf8'), 'same bytes');
  await fs.symlink(path.join(root, 'target'), path.join(root, 'sym.png'));
  await t.rejects(linkDuplicate(first, path.join(root, 'sym.png')), { message: /symlink/ });
  await t.rejects(linkDuplicate(path.join(root, 'missing.png'), path.join(root, 'x.png')), { code: 'ENOENT' });
  t.same(await tempsIn(root), []);
});

t.test('linkDuplicate across devices returns referenced', { skip: !existsSync('/dev/shm') && 'no /dev/shm' }, async (t) => {
  const root = t.testdir({ 'a.png': 'x' });
  const shm = await fs.mkdtemp('/dev/shm/dps-test-').catch(() => undefined);
  if (shm === undefined) return t.pass('skipped: cannot write /dev/shm');
  t.teardown(() => fs.rm(shm, { recursive: true, force: true }));
  const [rootStat, shmStat] = await Promise.all([fs.stat(root), fs.stat(shm)]);
  if (rootStat.dev === shmStat.dev) return t.pass('skipped: same device');
  t.equal(await linkDuplicate(path.join(root, 'a.png'), path.join(shm, 'a.png')), 'referenced');
  t.same(await fs.readdir(shm), [], 'nothing created');
});

t.test('removeStaleTemps deletes temp files only, without following symlinks', async (t) => {
  const root = t.testdir({
    outside: { '.0123456789abcdef01234567.dps-tmp': 'not ours to touch' },
    archive: {
      '.aaaaaaaaaaaaaaaaaaaaaaaa.dps-tmp': 'x',
      'keep.png': 'y',
      'user.dps-tmp': 'a file a user named like this is not ours',
      s: { c: { '.bbbbbbbbbbbbbbbbbbbbbbbb.dps-tmp': 'z', 'k.png': 'k' } },
    },
  });
  const archive = path.join(root, 'archive');
  await fs.symlink(path.join(root, 'outside'), path.join(archive, 'link'));
  t.equal(await removeStaleTemps(archive), 2);
  t.same((await fs.readdir(archive)).sort(), ['keep.png', 'link', 's', 'user.dps-tmp']);
  t.same(await fs.readdir(path.join(archive, 's', 'c')), ['k.png']);
  t.same(await fs.readdir(path.join(root, 'outside')), ['.0123456789abcdef01234567.dps-tmp']);
  t.equal(await removeStaleTemps(path.join(root, 'missing')), 0);
  await t.rejects(removeStaleTemps(archive, AbortSignal.abort()), { name: 'AbortError' });
});

t.test('fileMatches', async (t) => {
  const root = t.testdir({ 'a.png': 'hello' });
  const file = path.join(root, 'a.png');
  t.equal(await fileMatches(file, 5), true);
  t.equal(await fileMatches(file, 6), false);
  t.equal(await fileMatches(file, 5, sha('hello')), true);
  t.equal(await fileMatches(file, 5, sha('jello')), false);
  t.equal(await fileMatches(path.join(root, 'nope'), 5), false);
  t.equal(await fileMatches(root, 0), false, 'a directory is not a match');
});

t.test('a folder cache checks each folder once per run, never caches a refusal, and still refuses symlinks', async (t) => {
  const root = t.testdir({ outside: {}, archive: {} });
  const archive = path.join(root, 'archive');
  const folders: FolderCache = new Map();
  await fs.symlink(path.join(root, 'outside'), path.join(archive, 'server'));
  const target = path.join(archive, 'server', 'channel');
  await t.rejects(writeTemp(target, chunks(1, 1), { root: archive, folders }), { message: /symlink/ });
  t.equal(folders.size, 0, 'a refused folder is not remembered');
  await fs.unlink(path.join(archive, 'server'));
  const first = await writeTemp(target, chunks(1, 1), { root: archive, folders });
  t.equal(folders.size, 1, 'the checked folder is remembered');
  const second = await writeTemp(target, chunks(2, 1), { root: archive, folders });
  t.equal(folders.size, 1, 'and reused');
  t.same((await tempsIn(target)).sort(), [path.basename(first.tempPath), path.basename(second.tempPath)].sort());
  t.same(await fs.readdir(path.join(root, 'outside')), [], 'nothing ever written outside');
});

t.test('writeTemp batches chunks into large writes without changing a byte', async (t) => {
  const root = t.testdir();
  const sizes = [1, 70_000, 3, 600_000, 65_536, 1_000_000, 17, 250_000];
  const parts = sizes.map((size, i) => Buffer.alloc(size, (i * 37) % 256));
  async function* body(): AsyncIterable<Uint8Array> {
    yield* parts;
  }
  const all = Buffer.concat(parts);
  const result = await writeTemp(root, body(), { expectedSize: all.length });
  t.equal(result.sha256, sha(all));
  t.equal((await fs.readFile(result.tempPath)).compare(all), 0, 'file bytes equal the body');
});

t.test('many renames into one folder at once all land (their directory fsyncs are shared)', async (t) => {
  const root = t.testdir();
  const names = Array.from({ length: 40 }, (_, i) => `f${i}.bin`);
  await Promise.all(
    names.map(async (name, i) => {
      const temp = await writeTemp(root, chunks(1, i + 1), { expectedSize: i + 1 });
      await commitTemp(temp.tempPath, path.join(root, name));
    }),
  );
  t.same((await fs.readdir(root)).sort(), [...names].sort());
  for (const [i, name] of names.entries()) t.equal((await fs.stat(path.join(root, name))).size, i + 1);
});

t.test('writeTemp reports once that every byte is in, before it resolves; never when the body fails', async (t) => {
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
  const result = await writeTemp(root, body(), { expectedSize: 4000, onReceived: () => received++ });
  t.equal(pulled, 4);
  t.equal(received, 1, 'reported exactly once');
  t.equal(result.bytes, 4000);
  let failed = 0;
  await t.rejects(writeTemp(root, chunks(2, 10), { expectedSize: 30, onReceived: () => failed++ }), DownloadError);
  t.equal(failed, 0, 'a short body is not "received"');
});

// A folder swapped for a symlink to a folder outside the root after it was checked (issue 20, item 16), in this
// thread: writeTemp, commitTemp and linkDuplicate re-check it right before they create or rename anything.
t.test('a folder swapped for a symlink after its check: no create, rename or link goes through it', async (t) => {
  const root = t.testdir({ archive: {}, outside: {} });
  const archive = path.join(root, 'archive');
  const outside = path.join(root, 'outside');
  const moved = path.join(root, 'moved');
  const dir = path.join(archive, 'Server_1', 'chan_2');
  const folders: FolderCache = new Map();
  const first = await writeTemp(dir, chunks(2, 100), { root: archive, folders });
  t.ok(first.folder, 'the temp file comes with its folder identity');
  await commitTemp(first.tempPath, path.join(dir, 'a.bin'), first.sha256, first.folder);
  const pending = await writeTemp(dir, chunks(2, 100), { root: archive, folders });
  const swap = async (): Promise<void> => {
    await fs.rename(dir, moved);
    await fs.symlink(outside, dir);
  };
  const restore = async (): Promise<void> => {
    await fs.unlink(dir);
    await fs.rename(moved, dir);
  };
  await swap();
  await t.rejects(
    writeTemp(dir, chunks(2, 100), { root: archive, folders }),
    { name: 'OutputUnsafeError', code: 'DPS_OUTPUT_UNSAFE', message: /refusing to create a file/ },
    'no temp file is created',
  );
  await t.rejects(
    commitTemp(pending.tempPath, path.join(dir, 'b.bin'), pending.sha256, pending.folder),
    { name: 'OutputUnsafeError', message: /refusing to rename a file/ },
    'no rename',
  );
  await t.rejects(
    linkDuplicate(path.join(moved, 'a.bin'), path.join(dir, 'c.bin'), first.folder),
    { name: 'OutputUnsafeError', message: /refusing to link a file/ },
    'no hard link',
  );
  t.same(await fs.readdir(outside), [], 'nothing at all was written outside the root');
  t.same(
    (await fs.readdir(moved)).sort(),
    ['a.bin', path.basename(pending.tempPath)].sort(),
    'the real folder is untouched (its temp file is left for removeStaleTemps)',
  );
  await restore();
  await commitTemp(pending.tempPath, path.join(dir, 'b.bin'), pending.sha256, pending.folder);
  t.equal(await linkDuplicate(path.join(dir, 'a.bin'), path.join(dir, 'c.bin'), first.folder), 'linked', 'restored, the folder takes files again');
  t.same((await fs.readdir(dir)).sort(), ['a.bin', 'b.bin', 'c.bin']);
});

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

t.test('writeFile: files of every shape land byte for byte under their final name, with their sha256', async (t) => {
  const root = t.testdir();
  const shapes: Array<[number, number[], boolean]> = [
    [0, [1], true],
    [1, [1], true],
    [300, [100], false],
    [512 * 1024, [64 * 1024], true],
    [600_000, [500_000, 100_000], true], // a chunk straddles the end of the first 512 KiB batch
    [3 * 1024 * 1024 + 17, [65_536, 1_000_003, 7], true],
    [2_000_000, [65_536], false], // size unknown
    [1_500_000, [313, 65_222, 65_536, 17, 100_001, 3, 4_093], true], // chunks at every alignment
  ];
  const written = await Promise.all(
    shapes.map(async ([size, sizes, known], i) => {
      const data = bytesOf(size, i);
      const final = path.join(root, `f${i}`, `file-${i}.bin`);
      const file = await writeFile(path.dirname(final), chunked(data, sizes), final, { expectedSize: known ? size : undefined, root });
      return { file, data, final };
    }),
  );
  for (const { file, data, final } of written) {
    t.same(file, { bytes: data.byteLength, sha256: sha(data) }, `${data.byteLength} bytes hashed`);
    t.ok((await fs.readFile(final)).equals(data), `${data.byteLength} bytes on disk`);
    t.same(await tempsIn(path.dirname(final)), [], 'no temp file left');
  }
});

t.test('writeFile: a failing body, a short one or a symlink at the final name leave nothing behind', async (t) => {
  const root = t.testdir({ target: 'keep' });
  const data = bytesOf(700_000, 1);
  async function* broken(): AsyncIterable<Uint8Array> {
    yield data.subarray(0, 600_000);
    throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
  }
  await t.rejects(
    writeFile(root, broken(), path.join(root, 'broken.bin'), { expectedSize: 700_000 }),
    { message: 'socket hang up', code: 'ECONNRESET' },
    "the body's error, unchanged",
  );
  await t.rejects(writeFile(root, chunked(data, [65_536]), path.join(root, 'short.bin'), { expectedSize: 800_000 }), {
    code: 'DPS_DOWNLOAD',
    reason: 'size_mismatch',
    retryable: true,
  });
  await t.rejects(fs.lstat(path.join(root, 'short.bin')), { code: 'ENOENT' }, 'a short body never reaches its final name');
  await fs.symlink(path.join(root, 'target'), path.join(root, 'link'));
  await t.rejects(
    writeFile(root, chunked(bytesOf(10, 0), [10]), path.join(root, 'link'), { expectedSize: 10 }),
    DownloadError,
    'a symlink at the final name is refused',
  );
  t.equal(await fs.readFile(path.join(root, 'target'), 'utf8'), 'keep', 'nothing written through the link');
  t.same(await tempsIn(root), [], 'no temp file is left');
});

t.test('writeFile: a final name held by another file is never replaced: taken, then committed under another name', async (t) => {
  const data = bytesOf(5_000, 3);
  const root = t.testdir({ 'held.bin': 'a user file', 'same.bin': data });
  const file = await writeFile(root, chunked(data, [1_000]), path.join(root, 'held.bin'), { expectedSize: data.byteLength });
  t.equal(await fs.readFile(path.join(root, 'held.bin'), 'utf8'), 'a user file', 'the holder is untouched');
  t.ok(file.taken !== undefined && file.sha256 === sha(data), 'taken: the temp file is kept, hashed');
  t.equal(await commitTemp(file.taken!, path.join(root, 'held.bin'), file.sha256), 'taken', 'a commit never replaces either');
  t.equal(await commitTemp(file.taken!, path.join(root, 'next.bin'), file.sha256), 'placed');
  t.ok((await fs.readFile(path.join(root, 'next.bin'))).equals(data), 'under the next name, byte for byte');
  // The same bytes already under the name (a crashed run renamed them there): adopted, not duplicated.
  const again = await writeFile(root, chunked(data, [1_000]), path.join(root, 'same.bin'), { expectedSize: data.byteLength });
  t.equal(again.taken, undefined, 'identical bytes are adopted');
  const kept = await writeFile(root, chunked(bytesOf(10, 9), [10]), path.join(root, 'held.bin'), { expectedSize: 10 });
  await discardTemp(kept.taken!);
  t.same(await tempsIn(root), [], 'no temp file is left');
});

t.test('a folder swapped while a file is being written: the rename is refused, nothing lands outside the root', async (t) => {
  const root = t.testdir({ archive: {}, outside: {} });
  const archive = path.join(root, 'archive');
  const outside = path.join(root, 'outside');
  const moved = path.join(root, 'moved');
  const dir = path.join(archive, 'Server_1', 'chan_2');
  const folders: FolderCache = new Map();
  const data = bytesOf(1_000_000, 3);
  // Once the temp file exists in the real folder, the folder is swapped, then the rest of the body arrives.
  async function* body(): AsyncIterable<Uint8Array> {
    yield data.subarray(0, 600_000);
    while ((await tempsIn(dir)).length === 0) await new Promise((resolve) => setImmediate(resolve));
    await fs.rename(dir, moved);
    await fs.symlink(outside, dir);
    yield data.subarray(600_000);
  }
  await t.rejects(writeFile(dir, body(), path.join(dir, 'big.bin'), { expectedSize: data.byteLength, root: archive, folders }), {
    name: 'OutputUnsafeError',
    message: /was replaced by a symlink; refusing to rename a file in it/,
  });
  t.same(await fs.readdir(outside), [], 'nothing at all was written outside the root');
  const left = await fs.readdir(moved);
  t.equal(left.length, 1, 'the temp file stays where it was created, in the real folder');
  t.ok(left[0]?.endsWith('.dps-tmp'), 'under a temp name, never the final one');
  await fs.unlink(dir);
  await fs.rename(moved, dir);
  t.equal(await removeStaleTemps(archive), 1, 'the next run removes it');
  t.same(await fs.readdir(dir), []);
});
