// Selecting through the built CLI against the fake Discord: --author, --exclude-author, --exclude-bots,
// --min-size, --min-width, --min-height and --spoilers save exactly the files the API's messages say they should
// (each skipped file reported with its reason), and a later run that selects more walks the history again and
// completes the archive: every file saved exactly once, downloaded once, announced once.

import t from 'tap';
import type { Test } from 'tap';
import { join } from 'node:path';
import type { FakeDiscord } from '../../fixtures/fake-discord.js';
import { buildScenario } from '../../fixtures/scenarios.js';
import { assertExact } from '../helpers/verify.js';
import { postedFiles } from '../helpers/posted-files.js';
import type { PostedFile } from '../helpers/posted-files.js';
import { fakeFor, firstTarget, ofEvent, rawLines, runDps, schemaProblems } from './helpers.js';
import type { Line } from './helpers.js';

// Three people and a bot post images (a third of them spoilers, 500 B to 20 KB, with dimensions) and other
// files (some without dimensions).
const scenario = (seed: number) =>
  buildScenario({
    seed,
    authors: 3,
    botAuthors: 1,
    guilds: [{ name: 'Select', channels: [{ name: 'general', messages: 160, imageRatio: 0.6, otherRatio: 0.2, spoilerRate: 0.3, sizes: [500, 20_000] }] }],
  });

// The attachment id of a CDN request path (/attachments/:channel_id/:attachment_id/:filename).
const attachmentOf = (path: string): string => /^\/(?:media\/)?attachments\/\d+\/(\d+)\//.exec(path)?.[1] ?? path;

interface World {
  fake: FakeDiscord;
  files: PostedFile[];
  run: (extra: string[]) => Promise<Lines>;
  out: string;
  state: string;
  C: string;
}
interface Lines {
  saved: string[];
  skipped: Line[];
  warnings: string[];
  downloaded: string[];
}

async function world(t: Test, seed: number): Promise<World> {
  const fake = await fakeFor(t, { scenario: scenario(seed) });
  const { G, C } = firstTarget(fake);
  const dir = t.testdir();
  const out = join(dir, 'out');
  const state = join(dir, 'state');
  const files = await postedFiles(fake, C);
  const run = async (extra: string[]): Promise<Lines> => {
    fake.resetLog();
    const args = ['--server-id', G, '--channel-id', C, '--api', fake.api, '--out', out, '--state', state, '--types', 'all', '--no-progress', ...extra];
    const result = await runDps(args, { env: { DISCORD_TOKEN: fake.token } });
    t.equal(result.code, 0, `dps ${extra.join(' ')} exits 0${result.code === 0 ? '' : `: ${result.stderr}`}`);
    const all = rawLines(result.stdout);
    t.same(
      all.flatMap((l) => schemaProblems(l)),
      [],
      'every stdout line is a documented event',
    );
    const lines = all.filter((l): l is Line => l !== null);
    return {
      saved: lines.filter(ofEvent('saved')).map((l) => String(l.attachment_id)),
      skipped: lines.filter(ofEvent('skipped')),
      warnings: lines.filter(ofEvent('warning')).map((l) => String(l.code)),
      downloaded: fake.requests.filter((r) => r.kind === 'cdn').map((r) => attachmentOf(r.path)),
    };
  };
  return { fake, files, run, out, state, C };
}

const ids = (files: PostedFile[]) => files.map((f) => f.attachment_id).sort();
const sorted = (list: string[]) => [...list].sort();
const skippedFor = (lines: Lines, reason: string) => sorted(lines.skipped.filter((l) => l.reason === reason).map((l) => String(l.attachment_id)));

// The filtered run saved exactly `want` and reported every other file skipped with `reason`.
function assertSelected(t: Test, lines: Lines, files: PostedFile[], want: (f: PostedFile) => boolean, reason: string): void {
  const kept = files.filter(want);
  t.ok(kept.length > 0 && kept.length < files.length, `the flag keeps ${kept.length} of ${files.length} files`);
  t.same(sorted(lines.saved), ids(kept), 'it saves exactly the files the messages say it selects');
  t.same(skippedFor(lines, reason), ids(files.filter((f) => !want(f))), `and reports every other one skipped ${reason}`);
}

// A later run that selects more: a re-walk that saves exactly the rest, announcing and downloading nothing twice.
async function assertCompletes(t: Test, w: World, earlier: Lines[], extra: string[] = []): Promise<Lines> {
  const later = await w.run(extra);
  t.ok(later.warnings.includes('filter_widened'), 'the later run announces the re-walk');
  const before = earlier.flatMap((l) => l.saved);
  t.same(
    later.saved.filter((id) => before.includes(id)),
    [],
    'nothing announced before is announced again',
  );
  t.same(sorted([...before, ...later.saved]), ids(w.files), 'together the runs announced every file exactly once');
  const downloads = [...earlier.flatMap((l) => l.downloaded), ...later.downloaded];
  t.same(sorted(downloads), ids(w.files), 'and downloaded every file exactly once');
  await assertExact(t, w.fake, w.out, w.state, w.C);
  return later;
}

t.test('--author, then another --author, then no --author', async (t) => {
  const w = await world(t, 61);
  const people = [...new Set(w.files.filter((f) => !f.bot).map((f) => f.author_id))].sort();
  t.ok(people.length >= 2, 'the channel has several authors');
  const [a, b] = people as [string, string];
  const first = await w.run(['--author', a]);
  assertSelected(t, first, w.files, (f) => f.author_id === a, 'author');
  const second = await w.run(['--author', a, '--author', b]);
  t.ok(second.warnings.includes('filter_widened'), 'adding an author walks the history again');
  t.same(sorted(second.saved), ids(w.files.filter((f) => f.author_id === b)), "the second run saves exactly the new author's files");
  t.same(
    second.downloaded.filter((id) => first.saved.includes(id)),
    [],
    'and downloads none of the first',
  );
  const narrower = await w.run(['--author', b]);
  t.notOk(narrower.warnings.includes('filter_widened'), 'a run that selects less does not re-walk');
  t.same(narrower.saved, [], 'and saves nothing');
  await assertCompletes(t, w, [first, second, narrower]);
});

t.test('--exclude-author and --exclude-bots, then neither', async (t) => {
  const w = await world(t, 62);
  t.ok(
    w.files.some((f) => f.bot),
    'a bot posted files',
  );
  const excluded = w.files.find((f) => !f.bot)!.author_id;
  const first = await w.run(['--exclude-author', excluded, '--exclude-bots']);
  assertSelected(t, first, w.files, (f) => f.author_id !== excluded && !f.bot, 'author');
  const details = first.skipped.filter((l) => l.reason === 'author').map((l) => String(l.detail));
  t.ok(details.some((d) => d.includes('--exclude-bots')) && details.some((d) => d.includes('--exclude-author')), 'the detail says which flag skipped a file');
  const bots = await w.run(['--exclude-author', excluded]);
  t.same(sorted(bots.saved), ids(w.files.filter((f) => f.bot)), "without --exclude-bots: exactly the bots' files");
  await assertCompletes(t, w, [first, bots]);
});

t.test('--min-size, then none', async (t) => {
  const w = await world(t, 63);
  const first = await w.run(['--min-size', '8KB']);
  assertSelected(t, first, w.files, (f) => f.size >= 8000, 'too_small');
  await assertCompletes(t, w, [first]);
});

t.test('--min-width and --min-height (files without dimensions pass), then a smaller minimum', async (t) => {
  const w = await world(t, 64);
  const wide = (f: PostedFile) => (f.width === undefined || f.width >= 1000) && (f.height === undefined || f.height >= 600);
  t.ok(
    w.files.some((f) => f.width === undefined),
    'some files have no dimensions',
  );
  const first = await w.run(['--min-width', '1000', '--min-height', '600']);
  assertSelected(t, first, w.files, wide, 'too_small');
  const smaller = await w.run(['--min-width', '500']);
  t.ok(smaller.warnings.includes('filter_widened'), 'a smaller minimum walks the history again');
  const mid = (f: PostedFile) => f.width === undefined || f.width >= 500;
  t.same(sorted(smaller.saved), ids(w.files.filter((f) => mid(f) && !wide(f))), 'and saves exactly what it adds');
  await assertCompletes(t, w, [first, smaller]);
});

t.test('--spoilers exclude, then only, then include', async (t) => {
  const w = await world(t, 65);
  const first = await w.run(['--spoilers', 'exclude']);
  assertSelected(t, first, w.files, (f) => !f.spoiler, 'spoiler');
  const only = await w.run(['--spoilers', 'only']);
  t.ok(only.warnings.includes('filter_widened'), 'only after exclude walks the history again');
  t.same(sorted(only.saved), ids(w.files.filter((f) => f.spoiler)), 'and saves exactly the spoilers');
  const all = await w.run([]);
  t.ok(all.warnings.includes('filter_widened'), 'include after only walks again');
  t.same(all.saved, [], 'and finds nothing new to announce');
  t.same(all.downloaded, [], 'nor to download');
  await assertExact(t, w.fake, w.out, w.state, w.C);
});
