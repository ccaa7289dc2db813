// A channel folder swapped for a symlink to a folder outside --out in the middle of a run (issue 20, item 16):
// nothing is written through it, the failure is visible (a `failed` event with reason `output_unsafe`, exit 1,
// one line on stderr), no temp file remains, and a re-run after the folder is restored completes the archive.
// The swap happens at a known point: the fake holds every CDN response after the first file's until released.

import t from 'tap';
import { mkdirSync, readdirSync, renameSync, symlinkSync, unlinkSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { singleChannel } from '../../fixtures/scenarios.js';
import { collect, listFiles, sha256File } from '../helpers/harness.js';
import { fakeFor, firstTarget, ofEvent, runDps, schemaProblems, startCli, channelArgs } from './helpers.js';

t.test('a channel folder swapped for a symlink mid-run: nothing outside --out, output_unsafe, exact re-run', async (t) => {
  // One file per message (no images, one other file each), so the first file's `saved` event comes while the
  // second file's response is held.
  const scenario = singleChannel({ seed: 73, messages: 12, imageRatio: 0, otherRatio: 1, gapRate: 0, sizes: [2_000, 20_000] });
  const fake = await fakeFor(t, { scenario, cdnHoldAfter: 1 });
  const { C } = firstTarget(fake);
  const dir = t.testdir();
  const out = join(dir, 'out');
  const outside = join(dir, 'outside');
  const moved = join(dir, 'moved-away');
  mkdirSync(outside);
  const args = [...channelArgs(fake, out, join(dir, 'state')), '--types', 'all', '--concurrency', '1', '--no-progress'];
  const env = { DISCORD_TOKEN: fake.token };
  const running = startCli(args, { env });
  await running.waitFor(1, ofEvent('saved'));
  const first = running.lines.find(ofEvent('saved'))!;
  const saved = String(first.path);
  const folder = dirname(isAbsolute(saved) ? saved : join(out, saved));
  // The swap: the channel folder moves away and a symlink to a folder outside --out takes its place.
  renameSync(folder, moved);
  symlinkSync(outside, folder);
  fake.releaseCdn();
  const run = await running.done;

  t.same(readdirSync(outside), [], 'nothing at all was written through the symlink');
  t.equal(run.code, 1, 'exit code 1');
  const failed = run.lines.filter(ofEvent('failed'));
  t.equal(failed.length, 1, 'one failed event: the run stops at the first file it refuses');
  t.equal(failed[0]?.reason, 'output_unsafe', 'with the documented reason');
  t.same(run.lines.flatMap(schemaProblems), [], 'every stdout line is a documented event');
  const summary = run.lines.at(-1)!;
  t.equal(summary.event, 'summary', 'the run ends with a summary');
  t.equal(summary.exit_code, 1, 'whose exit code is 1');
  t.match(String(summary.error), /output folder changed/, 'and which says why it stopped');
  t.match(run.stderr, /^stopped: output folder changed during the run: .*general_\d+ was replaced by a symlink; .*re-run$/m, 'stderr says why, in one line');
  t.notMatch(run.stderr, /\n\s+at /, 'no stack trace');
  const temps = [...(await listFiles(out)), ...(await listFiles(moved))].filter((f) => f.includes('.dps-tmp'));
  t.same(temps, [], 'no temp file remains');
  t.equal(run.lines.filter(ofEvent('saved')).length, 1, 'only the file written before the swap was announced');

  // Restored, the folder takes the rest: the archive is exactly the fake's files.
  unlinkSync(folder);
  renameSync(moved, folder);
  const rerun = await runDps(args, { env });
  t.equal(rerun.code, 0, `the re-run exits 0 (stderr: ${rerun.stderr.trim()})`);
  const expected = await collect(fake.expected({ channelId: C }));
  const files = await listFiles(out);
  t.same(
    files.filter((f) => f.includes('.dps-tmp')),
    [],
    'no temp file remains after the re-run',
  );
  const hashes = await Promise.all(files.map((f) => sha256File(join(out, f))));
  t.same(hashes.sort(), expected.map((a) => a.sha256).sort(), `the archive holds exactly the ${expected.length} files, byte for byte`);
  const announced = [...run.lines, ...rerun.lines]
    .filter(ofEvent('saved'))
    .map((l) => String(l.attachment_id))
    .sort();
  t.same(announced, expected.map((a) => a.attachment_id).sort(), 'every file announced once over the two runs');
  t.same(readdirSync(outside), [], 'the folder outside --out is still empty');
});
