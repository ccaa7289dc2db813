// A later dps gallery rewrites only what changed: a second run over the same state writes no data file, no
// index and no page file (same inodes: every write is a temp file and a rename) and says so in its summary
// (channels 0, channels_unchanged, no gallery_channel); a new file in one channel rewrites that channel's data
// file only; a data file deleted or written by another version (its first line's input digest differs) is
// rewritten; a thumbnail deleted from the folder is made again.

import t from 'tap';
import { existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { demoScenario } from '../../fixtures/scenarios.js';
import { png } from '../helpers/images.js';
import { fakeFor, ofEvent, runDps, schemaProblems } from './helpers.js';
import type { Line } from './helpers.js';
import { unpackIds } from '../helpers/gallery-ids.js';

// Each file of the gallery folder (thumbnails aside) by its inode: a rewritten file has a new one.
function inodes(gallery: string): Map<string, number> {
  const files = ['index.html', 'unpack.js', 'app.js', 'app.css', ...readdirSync(join(gallery, 'data')).map((name) => `data/${name}`)];
  return new Map(files.map((name) => [name, statSync(join(gallery, name)).ino]));
}

// The attachment ids of a channel's data file, read as the page reads it.
function attachmentIds(file: string): string[] {
  let ids: string[] = [];
  const window = {
    dpsGallery: { channel: (_id: string, d: { items: Parameters<typeof unpackIds>[0] }) => (ids = unpackIds(d.items).attachment_id) },
  };
  runInNewContext(readFileSync(file, 'utf8'), { window });
  return ids;
}

const problems = (lines: Line[]): string[] => lines.flatMap((line) => schemaProblems(line).map((p) => `${JSON.stringify(line)}: ${p}`));

t.test('a later gallery run rewrites only what changed', async (t) => {
  const fake = await fakeFor(t, { scenario: demoScenario() });
  const guild = fake.scenario.guilds[0]!;
  const dir = t.testdir();
  const out = join(dir, 'out');
  const state = join(dir, 'state');
  const gallery = join(out, 'gallery');
  const env = { DISCORD_TOKEN: fake.token };
  const scrapeArgs = ['--server-id', guild.id, '--all-channels', '--api', fake.api, '--out', out, '--state', state];
  const scrape = await runDps(scrapeArgs, { env });
  t.equal(scrape.code, 0, `scrape exit 0 (stderr: ${scrape.stderr})`);
  const records = (await runDps(['manifest', '--state', state])).lines.filter((r) => r.status === 'saved');
  const images = records.filter((r) => String(r.content_type).startsWith('image/') && r.duplicate_of === undefined);
  for (const [i, record] of images.slice(0, 3).entries()) await writeFile(String(record.path), await png(500 + i, 400, 300));
  const channelCount = new Set(records.map((r) => String(r.channel_id))).size;

  const first = await runDps(['gallery', '--state', state, '--out', out]);
  t.equal(first.code, 0, `first gallery exit 0 (stderr: ${first.stderr})`);
  t.same(problems(first.lines), [], 'every line as documented');
  t.match(first.lines.at(-1), { command: 'gallery', channels: channelCount, channels_unchanged: 0, thumbnails_made: 3 });
  t.equal(first.lines.filter(ofEvent('gallery_channel')).length, channelCount, 'a gallery_channel per channel');
  const before = inodes(gallery);

  const second = await runDps(['gallery', '--state', state, '--out', out]);
  t.equal(second.code, 0, `second gallery exit 0 (stderr: ${second.stderr})`);
  t.same(problems(second.lines), []);
  t.match(second.lines.at(-1), { command: 'gallery', channels: 0, channels_unchanged: channelCount, thumbnails_made: 0, thumbnails_kept: 3 });
  t.same(second.lines.filter(ofEvent('gallery_channel')), [], 'no data file written, no gallery_channel');
  t.same(inodes(gallery), before, 'no data file, index or page file rewritten');

  // One new file in one channel: that channel's data file only (and the index, whose counts changed).
  const target = String(images[0]!.channel_id);
  const posted = fake.postMessage(target, { attachments: 1 });
  const rescrape = await runDps(scrapeArgs, { env });
  t.equal(rescrape.code, 0, `rescrape exit 0 (stderr: ${rescrape.stderr})`);
  const third = await runDps(['gallery', '--state', state, '--out', out]);
  t.equal(third.code, 0, `third gallery exit 0 (stderr: ${third.stderr})`);
  t.same(problems(third.lines), []);
  t.match(third.lines.at(-1), { channels: 1, channels_unchanged: channelCount - 1 });
  t.same(
    third.lines.filter(ofEvent('gallery_channel')).map((line) => line.channel_id),
    [target],
    'a gallery_channel for the changed channel only',
  );
  const after = inodes(gallery);
  const changed = [...after].filter(([name, ino]) => before.get(name) !== ino).map(([name]) => name);
  t.same(changed.sort(), [`data/c-${target}.js`, 'data/index.js'], 'only its data file and the index rewritten');
  t.ok(attachmentIds(join(gallery, 'data', `c-${target}.js`)).includes(posted.files[0]!.attachment_id), 'the new file is in its channel data');

  // A data file deleted, another written by some other version: both rewritten, nothing else.
  const others = [...after.keys()].filter((name) => name.startsWith('data/c-') && name !== `data/c-${target}.js`);
  t.ok(others.length >= 2, `${others.length} other channels`);
  const [deleted, foreign] = others as [string, string];
  rmSync(join(gallery, deleted));
  const text = readFileSync(join(gallery, foreign), 'utf8');
  writeFileSync(join(gallery, foreign), text.replace(/^\/\* dps-gallery-input (\S+) \*\//, '/* dps-gallery-input x$1 */'));
  const foreignIno = statSync(join(gallery, foreign)).ino;
  const fourth = await runDps(['gallery', '--state', state, '--out', out]);
  t.equal(fourth.code, 0, `fourth gallery exit 0 (stderr: ${fourth.stderr})`);
  t.match(fourth.lines.at(-1), { channels: 2, channels_unchanged: channelCount - 2 });
  t.ok(existsSync(join(gallery, deleted)), 'the deleted data file is back');
  t.not(statSync(join(gallery, foreign)).ino, foreignIno, 'the foreign data file is rewritten');
  t.equal(readFileSync(join(gallery, foreign), 'utf8'), text, 'as it was');

  // A thumbnail deleted from the folder: made again, the data files untouched (they name the same thumbnail).
  const thumbs = join(gallery, 'thumbs');
  const thumb = readdirSync(thumbs, { recursive: true, encoding: 'utf8' }).find((name) => name.endsWith('.webp'))!;
  rmSync(join(thumbs, thumb));
  const settled = inodes(gallery);
  const fifth = await runDps(['gallery', '--state', state, '--out', out]);
  t.equal(fifth.code, 0, `fifth gallery exit 0 (stderr: ${fifth.stderr})`);
  t.match(fifth.lines.at(-1), { channels: 0, thumbnails_made: 1 });
  t.ok(existsSync(join(thumbs, thumb)), 'the thumbnail is back');
  t.same(inodes(gallery), settled, 'no data file rewritten');
});
