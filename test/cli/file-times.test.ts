// File times end to end (issue 23): after `dps scrape` of the fake, every file's mtime and atime are its
// message's post time as the fake's messages give it (to the millisecond), hard-linked duplicates share the
// earliest post among their names (also when the earlier post is archived after the later one: a later
// --from-start run lowers the inode), and --no-mtime leaves the download time.

import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import type { FakeDiscord } from '../../fixtures/fake-discord.js';
import { singleChannel } from '../../fixtures/scenarios.js';
import { collect, listFiles } from '../helpers/harness.js';
import { fakeFor, firstTarget, ofEvent, runDps, schemaProblems, startCli } from './helpers.js';
import type { Finished } from './helpers.js';

// 40 messages an hour apart, photos of a few sizes, and re-posted bytes (duplicates: original.png, then
// repost.png, copy1.png and copy2.png with the same bytes in later messages).
const scenario = () => singleChannel({ seed: 23, messages: 40, imageRatio: 0.4, sizes: [1_000, 20_000], spacingMs: 3_600_000, special: ['duplicates'] });

type Saved = { path: string; message_id: string; attachment_id: string; timestamp: string };

function scrape(fake: FakeDiscord, dir: string, ...extra: string[]): Promise<Finished> {
  const { G, C } = firstTarget(fake);
  const args = ['scrape', '--server-id', G, '--channel-id', C, '--api', fake.api, '--out', join(dir, 'out'), '--state', join(dir, 'state')];
  return runDps([...args, ...extra], { env: { DISCORD_TOKEN: fake.token } });
}

function savedOf(t: Test, run: Finished): Saved[] {
  t.equal(run.code, 0, `exit 0 (${run.stderr.trim().split('\n').at(-1) ?? ''})`);
  t.same(run.lines.flatMap(schemaProblems), [], 'every line is a documented event');
  return run.lines.filter(ofEvent('saved')) as unknown as Saved[];
}

// The fake's own post time of every file, by message and attachment id (its messages, not dps's events).
async function postTimes(fake: FakeDiscord): Promise<Map<string, number>> {
  const { C } = firstTarget(fake);
  const all = await collect(fake.expected({ channelId: C }));
  return new Map(all.map((a) => [`${a.message_id}/${a.attachment_id}`, Date.parse(a.timestamp)]));
}

// Every saved file (by path) with the earliest post among the files that share its inode; checks that every
// file on disk is a saved one. Returns how many inodes have more than one name.
async function checkTimes(t: Test, fake: FakeDiscord, out: string, saved: Saved[]): Promise<number> {
  const posts = await postTimes(fake);
  const byInode = new Map<bigint, { paths: Set<string>; earliest: number }>();
  for (const event of saved) {
    const post = posts.get(`${event.message_id}/${event.attachment_id}`);
    if (post === undefined) {
      t.fail(`${event.attachment_id} is not one of the fake's files`);
      continue;
    }
    const { ino } = await lstat(event.path, { bigint: true });
    const group = byInode.get(ino) ?? { paths: new Set<string>(), earliest: post };
    group.paths.add(event.path);
    group.earliest = Math.min(group.earliest, post);
    byInode.set(ino, group);
  }
  t.equal(new Set(saved.map((e) => e.path)).size, (await listFiles(out)).length, 'the files on disk are the saved ones');
  let wrong = 0;
  for (const { paths, earliest } of byInode.values()) {
    for (const file of paths) {
      const stat = await lstat(file, { bigint: true });
      const want = BigInt(earliest) * 1_000_000n;
      if (stat.mtimeNs !== want || stat.atimeNs !== want) {
        wrong++;
        t.comment(`${file}: mtime ${new Date(Number(stat.mtimeNs / 1_000_000n)).toISOString()}, want ${new Date(earliest).toISOString()}`);
      }
    }
  }
  t.equal(wrong, 0, `all ${saved.length} files: mtime and atime are the (earliest) post time`);
  return [...byInode.values()].filter((g) => g.paths.size > 1).length;
}

t.test('after a scrape every file has its post time; hard-linked duplicates the earliest of theirs', async (t) => {
  const fake = await fakeFor(t, { scenario: scenario() });
  const dir = t.testdir();
  const saved = savedOf(t, await scrape(fake, dir));
  t.ok(saved.length >= 15, `files saved (${saved.length})`);
  t.ok((await checkTimes(t, fake, join(dir, 'out'), saved)) >= 2, 'duplicates were linked');
});

t.test('a duplicate from an earlier post, archived later (--after, then --from-start), lowers the shared inode', async (t) => {
  const fake = await fakeFor(t, { scenario: scenario() });
  const dir = t.testdir();
  const { C } = firstTarget(fake);
  const all = await collect(fake.expected({ channelId: C }));
  const original = all.find((a) => a.filename === 'original.png')!;
  const repost = all.find((a) => a.filename === 'repost.png')!;
  t.ok(Date.parse(original.timestamp) < Date.parse(repost.timestamp), 'the original is posted first');
  // First the history after the original: the repost is the first copy of these bytes, with its post time.
  const first = savedOf(t, await scrape(fake, dir, '--after', original.message_id));
  const repostPath = first.find((e) => e.attachment_id === repost.attachment_id)!.path;
  t.equal(Number((await lstat(repostPath, { bigint: true })).mtimeNs / 1_000_000n), Date.parse(repost.timestamp), 'the repost: its own post time');
  // Then the whole history: the original is linked to the repost's inode, which takes the original's time.
  const second = savedOf(t, await scrape(fake, dir, '--from-start'));
  const originalEvent = second.find((e) => e.attachment_id === original.attachment_id);
  t.ok(originalEvent !== undefined, 'the original is saved by the second run');
  t.equal((await lstat(originalEvent!.path)).ino, (await lstat(repostPath)).ino, 'linked to the repost');
  t.equal(Number((await lstat(repostPath, { bigint: true })).mtimeNs / 1_000_000n), Date.parse(original.timestamp), 'lowered to the original post');
  await checkTimes(t, fake, join(dir, 'out'), [...first, ...second]);
});

t.test('--no-mtime: files keep the time they were downloaded', async (t) => {
  const fake = await fakeFor(t, { scenario: scenario() });
  const dir = t.testdir();
  const started = Date.now();
  const saved = savedOf(t, await scrape(fake, dir, '--no-mtime'));
  t.ok(saved.length >= 15, `files saved (${saved.length})`);
  let old = 0;
  for (const event of saved) if ((await lstat(event.path)).mtimeMs < started - 2_000) old++;
  t.equal(old, 0, 'no file has a time from before the run');
});

t.test('--help describes --mtime and --no-mtime', async (t) => {
  const run = await runDps(['scrape', '--help']);
  t.equal(run.code, 0);
  t.match(run.stdout, /--mtime\b.*post time/);
  t.match(run.stdout, /--no-mtime/);
});

// Every file on disk (temp files excepted) by the message id in its default name ({date}_{message_id}_...):
// how many have a time other than the earliest post among the files that share their inode. `mtimeOnly`: a
// run killed between a hard link and the lowering of the inode's times may leave an atime a read moved.
async function wrongOnDisk(t: Test, fake: FakeDiscord, out: string, mtimeOnly: boolean): Promise<{ files: number; wrong: number }> {
  const { C } = firstTarget(fake);
  const posts = new Map((await collect(fake.expected({ channelId: C }))).map((a) => [a.message_id, Date.parse(a.timestamp)]));
  const files = (await listFiles(out)).filter((f) => !f.endsWith('.dps-tmp'));
  const byInode = new Map<bigint, { paths: string[]; earliest: number }>();
  for (const file of files) {
    const post = posts.get(file.split('/').at(-1)!.split('_')[1]!);
    if (post === undefined) {
      t.fail(`${file}: no message of the fake in its name`);
      continue;
    }
    const { ino } = await lstat(join(out, file), { bigint: true });
    const group = byInode.get(ino) ?? { paths: [], earliest: post };
    group.paths.push(join(out, file));
    group.earliest = Math.min(group.earliest, post);
    byInode.set(ino, group);
  }
  let wrong = 0;
  for (const { paths, earliest } of byInode.values()) {
    const stat = await lstat(paths[0]!, { bigint: true });
    const want = BigInt(earliest) * 1_000_000n;
    if (stat.mtimeNs !== want || (!mtimeOnly && stat.atimeNs !== want)) wrong += paths.length;
  }
  return { files: files.length, wrong };
}

t.test('kill -9 mid-run: no file under a final name has a download time; a re-run leaves every file its post time', async (t) => {
  // 150 messages, each CDN response delayed: the kill lands while files are still being downloaded.
  const big = singleChannel({ seed: 23, messages: 150, imageRatio: 0.5, sizes: [1_000, 20_000], spacingMs: 3_600_000, special: ['duplicates'] });
  const fake = await fakeFor(t, { scenario: big, cdnLatencyMs: 60 });
  const dir = t.testdir();
  const { G, C } = firstTarget(fake);
  const args = ['scrape', '--server-id', G, '--channel-id', C, '--api', fake.api, '--out', join(dir, 'out'), '--state', join(dir, 'state')];
  const run = startCli([...args, '--concurrency', '4'], { env: { DISCORD_TOKEN: fake.token } });
  await run.waitFor(3, ofEvent('saved'));
  run.child.kill('SIGKILL');
  const killed = await run.done;
  t.equal(killed.signal, 'SIGKILL', 'killed mid-run');
  const early = await wrongOnDisk(t, fake, join(dir, 'out'), true);
  const expected = await collect(fake.expected({ channelId: C }));
  const photos = expected.filter((a) => /\.(png|jpe?g|gif|webp)$/i.test(a.filename)).length;
  t.ok(early.files >= 3 && early.files < photos, `some files on disk after the kill (${early.files} of ${photos})`);
  t.equal(early.wrong, 0, 'each has its (earliest) post time already');
  const again = await runDps(args, { env: { DISCORD_TOKEN: fake.token } });
  t.equal(again.code, 0, 'the re-run completes');
  const after = await wrongOnDisk(t, fake, join(dir, 'out'), false);
  t.equal(after.files, photos, 'every photo on disk');
  t.equal(after.wrong, 0, 'every file: mtime and atime are the (earliest) post time');
});
