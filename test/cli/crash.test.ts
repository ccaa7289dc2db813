// Interrupted runs through the CLI: kill -9 at random points (startup, paging, downloads, dedupe links), SIGINT,
// SIGTERM and a reader closing stdout (`| head`) in the middle of a scrape, then a re-run. No partial file is
// ever under a final name, the final archive and state equal the fake byte for byte, nothing printed as saved
// is ever downloaded again, and no temporary file survives. Last, repeated kills of a fast run with many
// downloads in flight: a file complete under its final name before a kill is never requested from the CDN again.

import t from 'tap';
import type { Test } from 'tap';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FakeDiscord } from '../../fixtures/fake-discord.js';
import { singleChannel } from '../../fixtures/scenarios.js';
import { TEMP_SUFFIX } from '../../lib/fs/atomic-write.js';
import { collect, listFiles, sha256File } from '../helpers/harness.js';
import { assertExact } from '../helpers/verify.js';
import { fakeFor, firstTarget, ofEvent, runDps, schemaProblems, stackLines, startCli, channelArgs } from './helpers.js';
import type { Finished, Line } from './helpers.js';

// ~150 messages with 1-3 small images each; every CDN response is delayed, so a run lasts long enough to be
// interrupted after its first events.
async function slowFake(t: Test, seed: number): Promise<FakeDiscord> {
  return fakeFor(t, { scenario: singleChannel({ seed, messages: 240, imageRatio: 0.6, gapRate: 0, sizes: [2_000, 10_000] }), cdnLatencyMs: 25 });
}

function setup(t: Test, fake: FakeDiscord): { args: string[]; out: string; state: string; env: Record<string, string> } {
  const dir = t.testdir();
  const out = join(dir, 'out');
  const state = join(dir, 'state');
  return {
    out,
    state,
    args: [...channelArgs(fake, out, state), '--types', 'all', '--concurrency', '4', '--no-progress'],
    env: { DISCORD_TOKEN: fake.token },
  };
}

const savedIds = (lines: Line[]): string[] => lines.filter(ofEvent('saved')).map((l) => String(l.attachment_id));

// The attachment id of a CDN request (/attachments/:channel_id/:attachment_id/:filename).
const cdnAttachmentIds = (fake: FakeDiscord): string[] =>
  fake.requests.filter((r) => r.kind === 'cdn' && r.route.includes('/attachments/')).map((r) => r.path.split('/').at(-2) ?? '');

// The folder holds exactly the fake's files: same count, same bytes, no temp files.
async function archiveMatches(t: Test, fake: FakeDiscord, out: string): Promise<void> {
  const expected = await collect(fake.expected({ channelId: firstTarget(fake).C }));
  const files = await listFiles(out);
  t.same(
    files.filter((f) => f.includes('.dps-tmp')),
    [],
    'no .dps-tmp file remains',
  );
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

// A small deterministic PRNG, so a failing sequence of kill points can be replayed (DPS_KILL_SEED).
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 0x100000000;
  };
}

t.test('kill -9 at random points, each followed by a re-run: exact archive, no partial file, nothing downloaded twice', async (t) => {
  // Duplicate bytes too, so the hard-link path of the dedupe is interrupted as well.
  const fake = await fakeFor(t, {
    scenario: singleChannel({ seed: 41, messages: 300, imageRatio: 0.6, gapRate: 0, sizes: [1_000, 20_000], special: 'duplicates' }),
    cdnLatencyMs: 25,
  });
  const { C } = firstTarget(fake);
  const { args, out, state, env } = setup(t, fake);
  const expectedRecords = await collect(fake.expected({ channelId: C }));
  const expected = expectedRecords.map((a) => a.attachment_id).sort();
  const goodHashes = new Set(expectedRecords.map((e) => e.sha256));
  const seed = Number(process.env.DPS_KILL_SEED ?? 20240607);
  const random = prng(seed);
  t.comment(`kill seed ${seed} (set DPS_KILL_SEED to replay)`);

  // What earlier runs announced as saved: never downloaded again, and a repeat (a kill between the `saved` line
  // and the cursor's flush: at-least-once) describes the same file.
  const firstById = new Map<string, Line>();
  const announced: Line[] = [];
  const checkRun = (label: string, run: Finished): void => {
    const downloaded = cdnAttachmentIds(fake);
    t.same(
      downloaded.filter((id) => firstById.has(id)),
      [],
      `${label}: downloads nothing an earlier run reported saved`,
    );
    t.equal(new Set(downloaded).size, downloaded.length, `${label}: downloads each file at most once`);
    const inconsistent = run.lines.filter(ofEvent('saved')).filter((l) => {
      const before = firstById.get(String(l.attachment_id));
      return before !== undefined && (before.path !== l.path || before.sha256 !== l.sha256 || before.bytes !== l.bytes);
    });
    t.same(inconsistent, [], `${label}: a re-announced file carries the same path, size and sha256`);
    for (const line of run.lines.filter(ofEvent('saved'))) if (!firstById.has(String(line.attachment_id))) firstById.set(String(line.attachment_id), line);
    announced.push(...run.lines.filter(ofEvent('saved')));
  };

  let killed = 0;
  for (let round = 0; round < 6; round++) {
    // Half the kills land at a random time (startup, store open, paging...), half after a random number of saves.
    const bySaves = round % 2 === 1;
    const saves = 1 + Math.floor(random() * 25);
    const delayMs = 100 + Math.floor(random() * 800);
    fake.resetLog();
    const run = startCli(args, { env });
    const kill = (): void => void (run.child.exitCode === null && run.child.signalCode === null && run.child.kill('SIGKILL'));
    const timer = bySaves ? undefined : setTimeout(kill, delayMs);
    if (bySaves) void run.waitFor(saves, ofEvent('saved')).then(kill, () => undefined);
    const result = await run.done;
    clearTimeout(timer);
    if (result.signal === 'SIGKILL') {
      killed++;
      documented(t, result, true);
      t.notOk(result.lines.some(ofEvent('summary')), `round ${round} was killed before its end`);
    } else t.equal(result.code, 0, `round ${round} finished before its kill point: ${result.stderr}`);
    checkRun(`round ${round}`, result);
    // Whatever the moment of the kill, a file under its final name is complete.
    for (const file of await listFiles(out)) {
      if (file.endsWith('.dps-tmp')) continue;
      if (!goodHashes.has(await sha256File(join(out, file)))) t.fail(`partial or wrong file under its final name after round ${round}: ${file}`);
    }
  }
  t.ok(killed >= 4, `${killed} of 6 runs were killed mid-flight`);

  fake.resetLog();
  const final = await runDps(args, { env });
  t.equal(final.code, 0, `the re-run exits 0 (stderr: ${final.stderr})`);
  documented(t, final);
  t.same(stackLines(final.stderr), [], 'no stack trace');
  t.equal(final.lines.at(-1)?.event, 'summary');
  const savedFinal = savedIds(final.lines);
  t.equal(new Set(savedFinal).size, savedFinal.length, 'the re-run reports each attachment once');
  checkRun('the final run', final);
  t.same([...new Set(announced.map((l) => String(l.attachment_id)))].sort(), expected, 'together the runs report every expected attachment');
  await archiveMatches(t, fake, out);
  await assertExact(t, fake, out, state, C);

  // A further run finds nothing to do.
  fake.resetLog();
  const again = await runDps(args, { env });
  t.equal(again.code, 0);
  t.same(savedIds(again.lines), [], 'a further run saves nothing');
  t.equal(cdnAttachmentIds(fake).length, 0, 'and downloads nothing');
});

for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const) {
  t.test(`${signal} mid-run exits ${code}, saves progress, and a re-run completes`, async (t) => {
    const fake = await slowFake(t, signal === 'SIGINT' ? 32 : 33);
    const { args, out, state, env } = setup(t, fake);
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
    t.same(
      savedSecond.filter((id) => firstSet.has(id)),
      [],
      'nothing reported saved twice',
    );
    t.same([...savedFirst, ...savedSecond].sort(), expected, 'together the runs report every expected attachment exactly once');
    t.same(
      cdnAttachmentIds(fake).filter((id) => firstSet.has(id)),
      [],
      'the re-run downloads nothing already saved',
    );
    await archiveMatches(t, fake, out);
    await assertExact(t, fake, out, state, firstTarget(fake).C);
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

// A file renamed to its final name whose record was still waiting for its group commit when the process was
// killed must not be downloaded again by the next run (README: "A killed run continues where it stopped, losing
// nothing and downloading nothing twice"). Killed four times, 32 downloads in flight, then run to the end.
t.test('kill -9 mid-run: a file complete on disk is not downloaded again', async (t) => {
  const fake = await fakeFor(t, { scenario: singleChannel({ seed: 7, messages: 400, gapRate: 0, imageRatio: 1, sizes: [500, 60_000] }), cdnLatencyMs: 20 });
  const { C } = firstTarget(fake);
  const dir = t.testdir();
  const out = join(dir, 'out');
  const args = [...channelArgs(fake, out, join(dir, 'state')), '--concurrency', '32', '--types', 'all', '--quiet'];
  const env = { DISCORD_TOKEN: fake.token };
  const idBySha = new Map([...fake.expected({ channelId: C })].map((e) => [e.sha256, e.attachment_id]));
  const onDisk = new Set<string>();
  const again: string[] = [];
  const cdnIds = (): string[] => fake.requests.filter((r) => r.kind === 'cdn').map((r) => r.path.split('/')[3] ?? '');
  for (let kill = 0; kill < 4; kill++) {
    const before = cdnIds().length;
    const running = startCli(args, { env });
    await running.waitFor(40 * (kill + 1), (line) => line.event === 'saved').catch(() => undefined);
    running.child.kill('SIGKILL');
    await running.done;
    again.push(
      ...cdnIds()
        .slice(before)
        .filter((id) => onDisk.has(id)),
    );
    // Files under their final names only: a temp file (.<random>.dps-tmp) the kill left before its rename is
    // not in the archive yet (it is removed at the next start and its item downloaded again, by design).
    for (const file of (await listFiles(out)).filter((name) => !name.endsWith(TEMP_SUFFIX))) {
      const id = idBySha.get(
        createHash('sha256')
          .update(await readFile(join(out, file)))
          .digest('hex'),
      );
      if (id !== undefined) onDisk.add(id);
    }
  }
  const before = cdnIds().length;
  const last = await runDps(args, { env });
  t.equal(last.code, 0, 'the last run completes');
  again.push(
    ...cdnIds()
      .slice(before)
      .filter((id) => onDisk.has(id)),
  );
  t.same(again.slice(0, 5), [], `no complete file is downloaded again (${again.length} were)`);
});
