// Interrupted runs through the CLI: kill -9, SIGINT, SIGTERM and a reader closing stdout (`| head`) in the
// middle of a scrape, then a re-run. The final archive must equal the fake byte for byte, nothing printed as
// saved is ever downloaded again, and no temporary file survives.

import t from 'tap';
import type { Test } from 'tap';
import { join } from 'node:path';
import type { FakeDiscord } from '../../fixtures/fake-discord.js';
import { singleChannel } from '../../fixtures/scenarios.js';
import { collect, listFiles, sha256File } from '../helpers/harness.js';
import { fakeFor, firstTarget, ofEvent, runDps, schemaProblems, stackLines, startCli } from './helpers.js';
import type { Finished, Line } from './helpers.js';

// ~150 messages with 1-3 small images each; every CDN response is delayed, so a run lasts long enough to be
// interrupted after its first events.
async function slowFake(t: Test, seed: number): Promise<FakeDiscord> {
  return fakeFor(t, { scenario: singleChannel({ seed, messages: 240, imageRatio: 0.6, gapRate: 0, sizes: [2_000, 10_000] }), cdnLatencyMs: 25 });
}

function setup(t: Test, fake: FakeDiscord): { args: string[]; out: string; env: Record<string, string> } {
  const { G, C } = firstTarget(fake);
  const dir = t.testdir();
  const out = join(dir, 'out');
  return { out, args: ['--server-id', G, '--channel-id', C, '--api', fake.api, '--out', out, '--state', join(dir, 'state'), '--types', 'all', '--concurrency', '4'], env: { DISCORD_TOKEN: fake.token } };
}

const savedIds = (lines: Line[]): string[] => lines.filter(ofEvent('saved')).map((l) => String(l.attachment_id));

// The attachment id of a CDN request (/attachments/:channel_id/:attachment_id/:filename).
const cdnAttachmentIds = (fake: FakeDiscord): string[] =>
  fake.requests.filter((r) => r.kind === 'cdn' && r.route.includes('/attachments/')).map((r) => r.path.split('/').at(-2) ?? '');

// The folder holds exactly the fake's files: same count, same bytes, no temp files.
async function archiveMatches(t: Test, fake: FakeDiscord, out: string): Promise<void> {
  const expected = await collect(fake.expected({ channelId: firstTarget(fake).C }));
  const files = await listFiles(out);
  t.same(files.filter((f) => f.includes('.dps-tmp')), [], 'no .dps-tmp file remains');
  const hashes = await Promise.all(files.map((f) => sha256File(join(out, f))));
  t.same(hashes.sort(), expected.map((a) => a.sha256).sort(), `the folder holds exactly the ${expected.length} expected files, byte for byte`);
}

// Every complete stdout line is a documented event (the last line of a killed run may be cut short).
function documented(t: Test, run: Finished, killed = false): void {
  const lines = run.stdout.split('\n');
  const complete = lines.slice(0, -1);
  if (!killed) t.equal(lines.at(-1), '', 'stdout ends with a newline');
  const problems = complete.flatMap((line) => {
    try {
      return schemaProblems(JSON.parse(line) as Line);
    } catch {
      return [`not JSON: ${line.slice(0, 100)}`];
    }
  });
  t.same(problems, [], 'every stdout line is a documented event');
}

t.test('kill -9 mid-run, then a re-run: exact archive, nothing downloaded twice', async (t) => {
  const fake = await slowFake(t, 31);
  const { args, out, env } = setup(t, fake);
  const expected = (await collect(fake.expected({ channelId: firstTarget(fake).C }))).map((a) => a.attachment_id).sort();
  t.ok(expected.length > 150, `${expected.length} attachments`);

  const first = startCli(args, { env });
  await first.waitFor(15, ofEvent('saved'));
  first.child.kill('SIGKILL');
  const killed = await first.done;
  t.equal(killed.signal, 'SIGKILL', 'the first run was killed');
  documented(t, killed, true);
  t.notOk(killed.lines.some(ofEvent('summary')), 'it was killed before its end');
  const savedFirst = savedIds(killed.lines);
  t.ok(savedFirst.length >= 15 && savedFirst.length < expected.length, `${savedFirst.length} files were reported saved before the kill`);

  fake.resetLog();
  const second = await runDps(args, { env });
  t.equal(second.code, 0, `the re-run exits 0 (stderr: ${second.stderr})`);
  documented(t, second);
  t.same(stackLines(second.stderr), [], 'no stack trace');
  const savedSecond = savedIds(second.lines);
  const firstSet = new Set(savedFirst);
  t.same([...new Set([...savedFirst, ...savedSecond])].sort(), expected, 'together the runs report every expected attachment');
  t.equal(new Set(savedSecond).size, savedSecond.length, 'the re-run reports each attachment once');
  // A kill -9 can land after a `saved` line was printed but before the cursor was flushed: the re-run then
  // announces that file again (at-least-once), from the store, without downloading it. The repeat must
  // describe the same file.
  const firstById = new Map(killed.lines.filter(ofEvent('saved')).map((l) => [String(l.attachment_id), l]));
  const repeated = second.lines.filter(ofEvent('saved')).filter((l) => firstSet.has(String(l.attachment_id)));
  const inconsistent = repeated.filter((l) => {
    const before = firstById.get(String(l.attachment_id));
    return before?.path !== l.path || before?.sha256 !== l.sha256 || before?.bytes !== l.bytes;
  });
  t.same(inconsistent, [], `the ${repeated.length} re-announced file(s) carry the same path, size and sha256`);
  if (repeated.length > 0) t.comment(`${repeated.length} saved event(s) of the killed run were repeated by the re-run`);

  const downloaded = cdnAttachmentIds(fake);
  t.same(downloaded.filter((id) => firstSet.has(id)), [], 'the re-run downloads nothing the first run reported saved');
  t.equal(new Set(downloaded).size, downloaded.length, 'the re-run downloads each file at most once');
  await archiveMatches(t, fake, out);

  // A third run finds nothing to do.
  fake.resetLog();
  const third = await runDps(args, { env });
  t.equal(third.code, 0);
  t.same(savedIds(third.lines), [], 'a third run saves nothing');
  t.equal(cdnAttachmentIds(fake).length, 0, 'and downloads nothing');
});

for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  t.test(`${signal} mid-run exits ${code}, saves progress, and a re-run completes`, async (t) => {
    const fake = await slowFake(t, signal === 'SIGINT' ? 32 : 33);
    const { args, out, env } = setup(t, fake);
    const expected = (await collect(fake.expected({ channelId: firstTarget(fake).C }))).map((a) => a.attachment_id).sort();

    const first = startCli(args, { env });
    await first.waitFor(10, ofEvent('saved'));
    first.child.kill(signal);
    const stopped = await first.done;
    t.equal(stopped.code, code, `exit ${code} (stderr: ${stopped.stderr})`);
    t.same(stackLines(stopped.stderr), [], 'no stack trace');
    documented(t, stopped);
    const summary = stopped.lines.at(-1);
    t.equal(summary?.event, 'summary', 'the interrupted run still ends with its summary');
    t.equal(summary?.exit_code, code, `summary.exit_code ${code}`);
    const savedFirst = savedIds(stopped.lines);
    t.ok(savedFirst.length < expected.length, `stopped early (${savedFirst.length} of ${expected.length})`);
    t.equal((await listFiles(out)).filter((f) => f.includes('.dps-tmp')).length, 0, 'a graceful stop leaves no temp file');

    fake.resetLog();
    const second = await runDps(args, { env });
    t.equal(second.code, 0, `the re-run exits 0 (stderr: ${second.stderr})`);
    const savedSecond = savedIds(second.lines);
    const firstSet = new Set(savedFirst);
    t.same(savedSecond.filter((id) => firstSet.has(id)), [], 'nothing reported saved twice');
    t.same([...savedFirst, ...savedSecond].sort(), expected, 'together the runs report every expected attachment exactly once');
    t.same(cdnAttachmentIds(fake).filter((id) => firstSet.has(id)), [], 'the re-run downloads nothing already saved');
    await archiveMatches(t, fake, out);
  });
}

t.test('stdout closed by the reader (| head -n 3): exit 0, no EPIPE trace, and a re-run completes', async (t) => {
  const fake = await slowFake(t, 34);
  const { args, out, env } = setup(t, fake);
  const expected = (await collect(fake.expected({ channelId: firstTarget(fake).C }))).map((a) => a.attachment_id).sort();

  const first = startCli(args, { env });
  await first.waitFor(3);
  first.child.stdout.destroy();
  const closed = await first.done;
  t.equal(closed.code, 0, `exit 0 (stderr: ${closed.stderr})`);
  t.equal(closed.signal, null, 'not killed by a signal');
  t.same(stackLines(closed.stderr), [], 'no stack trace');
  t.notMatch(closed.stderr, /EPIPE|internal error/, 'no EPIPE error');

  fake.resetLog();
  const second = await runDps(args, { env });
  t.equal(second.code, 0, `the re-run exits 0 (stderr: ${second.stderr})`);
  documented(t, second);
  const savedSecond = savedIds(second.lines);
  t.ok(savedSecond.length <= expected.length - 3, `the first run's progress was kept (${expected.length - savedSecond.length} files already archived)`);
  const downloaded = cdnAttachmentIds(fake);
  t.equal(new Set(downloaded).size, downloaded.length, 'the re-run downloads each file at most once');
  await archiveMatches(t, fake, out);
});
