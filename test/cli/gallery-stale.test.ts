// A channel the state no longer holds leaves the gallery (issue 26's leftovers): the state is replaced by an older
// copy that lacks one of two channels; a gallery run whose selection does not cover that channel keeps it, a run
// that covers it drops it from the index and removes its data file and the thumbnails only it showed; the other
// channel's files are not rewritten and files the gallery never wrote are left. An index edited to name paths
// removes nothing outside the gallery's own names.

import t from 'tap';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { buildScenario } from '../../fixtures/scenarios.js';
import { png } from '../helpers/images.js';
import { firstSaved, twoImageChannels } from './two-channels.js';
import { fakeFor, runDps, schemaProblems } from './helpers.js';
import type { Line } from './helpers.js';

const problems = (lines: Line[]): string[] => lines.flatMap((line) => schemaProblems(line).map((p) => `${JSON.stringify(line)}: ${p}`));

// The channel ids data/index.js lists.
function indexed(gallery: string): string[] {
  let ids: string[] = [];
  const window = {
    dpsGallery: { index: (d: { servers: Array<{ channels: Array<{ id: string }> }> }) => (ids = d.servers.flatMap((s) => s.channels.map((c) => c.id))) },
  };
  runInNewContext(readFileSync(join(gallery, 'data', 'index.js'), 'utf8'), { window });
  return ids.sort();
}

// Every file under the gallery folder (relative) by inode.
function files(gallery: string): Map<string, number> {
  const names = readdirSync(gallery, { recursive: true, encoding: 'utf8' }).filter((name) => statSync(join(gallery, name)).isFile());
  return new Map(names.map((name) => [name, statSync(join(gallery, name)).ino]));
}

const thumb = (sha: string): string => `thumbs/${sha.slice(0, 2)}/${sha}.webp`;

t.test('a channel the state no longer holds leaves the gallery; nothing else does', async (t) => {
  const { fake, G, A, B } = await twoImageChannels(t, 91);
  const dir = t.testdir();
  const out = join(dir, 'out');
  const state = join(dir, 'state');
  const gallery = join(out, 'gallery');
  const env = { DISCORD_TOKEN: fake.token };
  const scrape = (channel: string) => runDps(['--server-id', G, '--channel-id', channel, '--api', fake.api, '--out', out, '--state', state], { env });

  const pictures = async (channel: string, count: number, seed: number): Promise<Line[]> => {
    const chosen = await firstSaved(state, channel, count);
    for (const [i, r] of chosen.entries()) await writeFile(String(r.path), await png(seed + i, 300, 200));
    return chosen;
  };

  // alpha archived (two real pictures) and shown; the state copied (the older copy); then beta archived (three).
  t.equal((await scrape(A)).code, 0, 'alpha archived');
  const alphaPics = await pictures(A, 2, 700);
  t.equal((await runDps(['gallery', '--state', state, '--out', out])).code, 0, 'gallery of alpha');
  cpSync(state, join(dir, 'state-alpha'), { recursive: true });
  t.equal((await scrape(B)).code, 0, 'beta archived');
  const betaPics = await pictures(B, 3, 710);
  t.equal(alphaPics.length + betaPics.length, 5, 'five images to draw');

  const first = await runDps(['gallery', '--state', state, '--out', out]);
  t.equal(first.code, 0, `first gallery exit 0 (stderr: ${first.stderr})`);
  t.same(problems(first.lines), [], 'every line as documented');
  t.match(first.lines.at(-1), { command: 'gallery', channels: 1, channels_unchanged: 1, channels_removed: 0, thumbnails_made: 3 });
  t.same(indexed(gallery), [A, B].sort(), 'both channels indexed');
  // Files the gallery never wrote: a data file for a channel it never listed, notes, a thumbnail-like name.
  const foreign = ['data/c-123456789012345678.js', 'data/notes.txt', 'notes.txt', `thumbs/zz/${'0'.repeat(64)}.webp`, 'thumbs/ab/not-a-thumb.webp'];
  for (const name of foreign) {
    rmSync(join(gallery, name), { force: true });
    cpSync(join(gallery, 'index.html'), join(gallery, name)); // creates the folder on the way
  }
  const before = files(gallery);
  const alphaThumbs = alphaPics.map((r) => thumb(String(r.sha256)));
  const betaThumbs = betaPics.map((r) => thumb(String(r.sha256)));
  for (const name of [...alphaThumbs, ...betaThumbs]) t.ok(before.has(name), `${name} made`);

  // The older state comes back: beta is not in it. A gallery of alpha alone does not judge beta.
  rmSync(state, { recursive: true });
  cpSync(join(dir, 'state-alpha'), state, { recursive: true });
  const partial = await runDps(['gallery', '--state', state, '--out', out, '--channel-id', A]);
  t.equal(partial.code, 0, `--channel-id alpha exit 0 (stderr: ${partial.stderr})`);
  t.match(partial.lines.at(-1), { channels: 0, channels_unchanged: 1, channels_removed: 0 });
  t.same(indexed(gallery), [A, B].sort(), 'beta stays listed: outside the selection');
  t.same(files(gallery), before, 'no file written or removed');

  // A run over every channel: beta goes.
  const second = await runDps(['gallery', '--state', state, '--out', out]);
  t.equal(second.code, 0, `second gallery exit 0 (stderr: ${second.stderr})`);
  t.same(problems(second.lines), [], 'every line as documented');
  t.match(second.lines.at(-1), { command: 'gallery', channels: 0, channels_unchanged: 1, channels_removed: 1, thumbnails_made: 0 });
  t.same(indexed(gallery), [A], 'beta is out of the index');
  const after = files(gallery);
  t.notOk(existsSync(join(gallery, 'data', `c-${B}.js`)), "beta's data file is removed");
  for (const name of betaThumbs) t.notOk(after.has(name), `${name} (beta's only) is removed`);
  for (const name of [...alphaThumbs, `data/c-${A}.js`, 'index.html', 'unpack.js', 'app.js', 'app.css', ...foreign])
    t.equal(after.get(name), before.get(name), `${name} untouched`);
  const changed = [...after].filter(([name, ino]) => before.get(name) !== ino).map(([name]) => name);
  t.same(changed, ['data/index.js'], 'only the index rewritten');

  // Nothing left to remove: a third run changes nothing.
  const third = await runDps(['gallery', '--state', state, '--out', out]);
  t.match(third.lines.at(-1), { channels: 0, channels_removed: 0 });
  t.same(files(gallery), after, 'a third run changes nothing');
});

t.test('a hand-edited index cannot make the gallery remove anything outside its own names', async (t) => {
  const fake = await fakeFor(t, {
    scenario: buildScenario({
      seed: 92,
      guilds: [{ name: 'Server', channels: [{ name: 'alpha', messages: 3, imageRatio: 1, gapRate: 0, sizes: [500, 900] }] }],
    }),
  });
  const guild = fake.scenario.guilds[0]!;
  const dir = t.testdir({ 'victim.js': 'keep me' });
  const out = join(dir, 'out');
  const state = join(dir, 'state');
  const gallery = join(out, 'gallery');
  t.equal(
    (await runDps(['--server-id', guild.id, '--all-channels', '--api', fake.api, '--out', out, '--state', state], { env: { DISCORD_TOKEN: fake.token } })).code,
    0,
  );
  t.equal((await runDps(['gallery', '--state', state, '--out', out])).code, 0);
  // An index listing a channel the state never held, whose id is a path (data/c-<id>.js would be <dir>/victim.js).
  const index = readFileSync(join(gallery, 'data', 'index.js'), 'utf8');
  const planted = index.replace(
    '"channels":[',
    '"channels":[{"id":"../../../../../victim","name":"x","kind":"channel","count":1,"first":"","last":"","cover":null,"data":"../../../../victim.js"},',
  );
  t.not(planted, index, 'planted');
  writeFileSync(join(gallery, 'data', 'index.js'), planted);
  const run = await runDps(['gallery', '--state', state, '--out', out]);
  t.equal(run.code, 0, `exit 0 (stderr: ${run.stderr})`);
  t.match(run.lines.at(-1), { channels_removed: 1 });
  t.equal(readFileSync(join(dir, 'victim.js'), 'utf8'), 'keep me', 'the file the edited index named is intact');
  t.notMatch(readFileSync(join(gallery, 'data', 'index.js'), 'utf8'), /victim/, 'the planted entry is gone from the index');
});
