// File times (lib/fs/file-times.ts): which timestamps are post times, and setting them on a file in place:
// exactly (to the nanosecond the file system keeps), only ever lowered on a shared inode, atime put back after
// a read, symlinks never followed, and an error never thrown.

import fs from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { msArg, postTimeMs, setFileTimes } from '../../lib/fs/file-times.js';

const NS = 1_000_000n;
const timesOf = async (file: string): Promise<{ m: bigint; a: bigint }> => {
  const stat = await fs.lstat(file, { bigint: true });
  return { m: stat.mtimeNs, a: stat.atimeNs };
};

t.test('postTimeMs: Discord timestamps in every precision and offset; anything else is no post time', async (t) => {
  t.equal(postTimeMs('2021-03-04T05:06:07.123456+00:00'), Date.UTC(2021, 2, 4, 5, 6, 7, 123));
  t.equal(postTimeMs('2021-03-04T05:06:07+00:00'), Date.UTC(2021, 2, 4, 5, 6, 7));
  t.equal(postTimeMs('2021-03-04T05:06:07.5Z'), Date.UTC(2021, 2, 4, 5, 6, 7, 500));
  t.equal(postTimeMs('2021-03-04T07:06:07.000+02:00'), Date.UTC(2021, 2, 4, 5, 6, 7), 'an offset is honoured: the time is UTC');
  for (const bad of [
    undefined,
    '',
    'yesterday',
    '2021-03-04',
    '2021-03-04 05:06:07',
    '2021-13-45T99:99:99Z',
    '1970-01-01T00:00:00.000Z',
    '2014-12-31T23:59:59.999Z',
    '2021-03-04T05:06:07.123Z\n',
  ]) {
    t.equal(postTimeMs(bad), undefined, `not a post time: ${JSON.stringify(bad)}`);
  }
  t.equal(postTimeMs('2015-01-01T00:00:00.000Z'), Date.UTC(2015, 0, 1), 'the Discord epoch is the earliest post time');
});

t.test('msArg: the seconds utimes takes land on the exact millisecond (no ...999 us from float rounding)', async (t) => {
  const file = path.join(t.testdir({ f: 'x' }), 'f');
  let off = 0;
  for (let i = 0; i < 500; i++) {
    const ms = Date.UTC(2015, 0, 1) + i * 7_919_993 + (i % 1000); // every millisecond remainder, spread over years
    await fs.utimes(file, msArg(ms), msArg(ms));
    const { m, a } = await timesOf(file);
    if (m !== BigInt(ms) * NS || a !== BigInt(ms) * NS) off++;
  }
  t.equal(off, 0, 'every time exact');
});

t.test('setFileTimes: exact on a file of its own, earlier or later than it is', async (t) => {
  const file = path.join(t.testdir({ f: 'x' }), 'f');
  const later = Date.UTC(2030, 0, 1, 0, 0, 0, 7);
  await setFileTimes(file, later, false);
  t.same(await timesOf(file), { m: BigInt(later) * NS, a: BigInt(later) * NS }, 'raised on a file of its own');
  const earlier = Date.UTC(2021, 5, 6, 7, 8, 9, 321);
  await setFileTimes(file, earlier, false);
  t.same(await timesOf(file), { m: BigInt(earlier) * NS, a: BigInt(earlier) * NS });
});

t.test('setFileTimes on a shared inode only lowers, and puts back an atime a read moved', async (t) => {
  const dir = t.testdir({ a: 'bytes' });
  const [a, b] = [path.join(dir, 'a'), path.join(dir, 'b')];
  await fs.link(a, b);
  const first = Date.UTC(2022, 0, 1, 12);
  await setFileTimes(a, first, false);
  await setFileTimes(b, Date.UTC(2023, 0, 1), true);
  t.same(await timesOf(a), { m: BigInt(first) * NS, a: BigInt(first) * NS }, 'a later post never raises the inode');
  const earliest = Date.UTC(2021, 0, 1, 1, 2, 3, 4);
  await setFileTimes(b, earliest, true);
  t.same(await timesOf(a), { m: BigInt(earliest) * NS, a: BigInt(earliest) * NS }, 'an earlier post lowers it, for every name');
  await fs.utimes(a, Date.now() / 1000, msArg(earliest)); // atime moved (as a read under relatime moves it)
  await setFileTimes(b, Date.UTC(2024, 0, 1), true);
  t.same(await timesOf(b), { m: BigInt(earliest) * NS, a: BigInt(earliest) * NS }, 'atime back to the inode mtime');
});

t.test('setFileTimes never follows a symlink, and never throws (missing file, a folder)', async (t) => {
  const dir = t.testdir({ target: 'x', sub: {} });
  const target = path.join(dir, 'target');
  const before = await timesOf(target);
  await fs.symlink(target, path.join(dir, 'link'));
  await setFileTimes(path.join(dir, 'link'), Date.UTC(2021, 0, 1), false);
  t.same(await timesOf(target), before, 'the target keeps its times');
  await t.resolves(setFileTimes(path.join(dir, 'missing'), Date.UTC(2021, 0, 1), false));
  const sub = await timesOf(path.join(dir, 'sub'));
  await setFileTimes(path.join(dir, 'sub'), Date.UTC(2021, 0, 1), false);
  t.same(await timesOf(path.join(dir, 'sub')), sub, 'a folder is left alone');
});
