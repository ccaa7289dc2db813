// dps gallery, dps similar and dps scrape --gallery end to end: the fake's demo server scraped, some archived files
// replaced by real pictures (the fake's bytes are not images), then the gallery: files on disk, exit codes, every
// saved file reachable from its channel's data with hostile names intact, a second run that makes no thumbnail,
// `dps similar` grouping a resized re-encode with its original and nothing unrelated, --gallery-dir outside --out.

import t from 'tap';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { runInNewContext } from 'node:vm';
import sharp from 'sharp';
import { animatedGif, jpegOrientation6, png, reencoded } from '../helpers/images.js';
import { listFiles } from '../helpers/harness.js';
import { openStore } from '../../lib/store/open.js';
import { scrapedDemo } from './gallery-demo.js';
import { ofEvent, runDps, schemaProblems } from './helpers.js';
import type { Line } from './helpers.js';
import { unpackIds } from '../helpers/gallery-ids.js';

interface ChannelItems {
  attachment_id: string[];
  f: string[];
  n: string[];
  th: Array<string | null>;
  k: number[];
  s: Array<number[] | null>;
}

interface IndexChannel {
  id: string;
  name: string;
  kind: string;
  parent_id?: string;
  parent_name?: string;
  data: string;
  count: number;
}

// What the gallery's data files hold, read the way the page reads them (scripts calling window.dpsGallery).
function readGallery(dir: string): {
  index: { servers: Array<{ channels: IndexChannel[] }> };
  channels: Map<string, ChannelItems>;
} {
  const got: { index?: unknown; channels: Map<string, ChannelItems> } = { channels: new Map() };
  const window = {
    dpsGallery: {
      index: (d: unknown) => (got.index = d),
      channel: (id: string, d: { version: number; folders: string[]; items: StoredItems }) => got.channels.set(id, decoded(d)),
    },
  };
  runInNewContext(readFileSync(join(dir, 'data', 'index.js'), 'utf8'), { window });
  const index = got.index as { servers: Array<{ channels: IndexChannel[] }> };
  for (const server of index.servers) for (const channel of server.channels) runInNewContext(readFileSync(join(dir, channel.data), 'utf8'), { window });
  return { index, channels: got.channels };
}

// Gallery data version 3 stores less than it means (folders + fd + n, thumbnails by base64url sha256, Discord's
// filename as an offset into the name on disk, ids as differences): the columns the checks below read, rebuilt as the page builds them.
interface StoredItems {
  attachment_id: Array<string | number>;
  message_id: Array<string | number>;
  fd: number[];
  n: string[];
  o: Array<string | number | null>;
  th: Array<string | null>;
  k: number[];
  s: Array<number[] | null>;
}
function decoded(d: { version: number; folders: string[]; items: StoredItems }): ChannelItems {
  if (d.version !== 3) throw new Error(`gallery data version ${d.version}`);
  const { items } = d;
  return {
    attachment_id: unpackIds(items).attachment_id,
    f: items.n.map((name, i) => `${d.folders[items.fd[i]!]}/${encodeURIComponent(name)}`),
    n: items.n.map((name, i) => {
      const o = items.o[i];
      return typeof o === 'number' ? name.slice(o) : (o ?? name);
    }),
    th: items.th.map((b) => {
      if (b === null) return null;
      const hex = Buffer.from(b, 'base64url').toString('hex');
      return `thumbs/${hex.slice(0, 2)}/${hex}.webp`;
    }),
    k: items.k,
    s: items.s,
  };
}

const problems = (lines: Line[]): string[] => lines.flatMap((line) => schemaProblems(line));

t.test('dps gallery, similar and scrape --gallery', async (t) => {
  const { dir, out, state, env, scrape, records, images } = await scrapedDemo(t);

  // Real pictures in place of some archived images (same paths, so the state's records point at them).
  t.ok(images.length >= 5, `${images.length} distinct images archived`);
  const [original, resized, unrelated, turned, moving] = images as [Line, Line, Line, Line, Line];
  const originalBytes = await png(101, 640, 480);
  await writeFile(String(original.path), originalBytes);
  await writeFile(String(resized.path), await reencoded(originalBytes, 300));
  await writeFile(String(unrelated.path), await png(202, 640, 480));
  await writeFile(String(turned.path), await jpegOrientation6(303, 600, 300));
  await writeFile(String(moving.path), await animatedGif(404));
  const real = new Set([original, resized, unrelated, turned, moving].map((r) => String(r.sha256)));

  const first = await runDps(['gallery', '--state', state, '--out', out]);
  t.equal(first.code, 0, `gallery exit 0 (stderr: ${first.stderr})`);
  t.same(problems(first.lines), [], 'every line as documented');
  const gallery = join(out, 'gallery');
  const summary = first.lines.at(-1);
  t.match(summary, {
    event: 'summary',
    command: 'gallery',
    files: records.length,
    thumbnails_made: 5,
    thumbnails_kept: 0,
    gallery: join(gallery, 'index.html'),
  });
  const warnings = first.lines.filter(ofEvent('warning'));
  t.ok(warnings.length > 0, `the fake's other images (random bytes) are placeholders with a warning (${warnings.length})`);
  t.notOk(
    warnings.some((w) => real.has(String(w.sha256))),
    'no warning for a real picture',
  );
  for (const name of ['index.html', 'unpack.js', 'app.js', 'app.css', 'data/index.js']) t.ok(existsSync(join(gallery, name)), name);
  const thumbs = (await listFiles(join(gallery, 'thumbs'))).sort();
  t.same(thumbs, [...real].map((sha) => `${sha.slice(0, 2)}/${sha}.webp`).sort(), 'one thumbnail per real picture, content-addressed');
  const turnedThumb = await sharp(join(gallery, 'thumbs', String(turned.sha256).slice(0, 2), `${String(turned.sha256)}.webp`)).metadata();
  t.same([turnedThumb.width, turnedThumb.height], [160, 320], 'EXIF orientation applied, 320 px long side');

  // Every saved file is in its channel's data, its path resolving to the archived file, names intact.
  const { index, channels } = readGallery(gallery);
  const listed = index.servers.flatMap((s) => s.channels);
  t.equal(
    listed.reduce((sum, c) => sum + c.count, 0),
    records.length,
    'the index counts every saved file',
  );
  // Threads and forum posts told apart: the demo has a thread of #general and two posts of the forum #gallery,
  // whose parent's type the scrape kept in the state.
  const kinds = Object.fromEntries(listed.map((c) => [c.name, [c.kind, c.parent_name ?? null]]));
  t.same(kinds['trip photos'], ['thread', 'general'], 'a thread');
  t.same(kinds['first post'], ['forum-post', 'gallery'], 'a forum post');
  t.same(kinds['old post'], ['forum-post', 'gallery'], 'an archived forum post');
  t.same(kinds.general, ['channel', null], 'a channel');
  const store = await openStore(state);
  const parentTypes = await Promise.all(listed.map(async (c) => [c.name, (await store.getChannel(c.id))?.parent_type ?? null]));
  await store.close();
  t.same(
    Object.fromEntries(parentTypes.filter(([, type]) => type !== null)),
    { 'trip photos': 0, 'first post': 15, 'old post': 15 },
    "the state keeps a thread's parent type",
  );
  let missing = 0;
  for (const record of records) {
    const items = channels.get(String(record.channel_id));
    const i = items?.attachment_id.indexOf(String(record.attachment_id)) ?? -1;
    if (!items || i < 0) {
      missing++;
      continue;
    }
    const file = resolve(gallery, ...String(items.f[i]).split('/').map(decodeURIComponent));
    if (file !== record.path) t.fail(`${String(record.filename)}: ${file} is not ${String(record.path)}`);
    if (items.n[i] !== record.filename) t.fail(`name ${JSON.stringify(items.n[i])} is not ${JSON.stringify(record.filename)}`);
    const type = String(record.content_type ?? 'unknown/'); // no content type: the extension decides (records.ts)
    const kind = items.k[i];
    if (type.startsWith('video/') && kind !== 2) t.fail(`${type}: kind ${kind}`);
    if (!type.startsWith('video/') && !type.startsWith('image/') && !type.startsWith('unknown/') && kind !== 3) t.fail(`${type}: kind ${kind}`);
    if (String(record.sha256) === moving.sha256 && kind !== 1) t.fail('the GIF is flagged animated');
    if (real.has(String(record.sha256)) !== (items.th[i] !== null)) t.fail(`${String(record.filename)}: thumbnail ${items.th[i]}`);
  }
  t.equal(missing, 0, 'every saved file is reachable from the index');
  t.ok(
    records.some((r) => /["<>&'\\]|[^\x20-\x7e]/.test(String(r.filename))),
    'the demo has hostile names',
  );
  for (const name of await listFiles(join(gallery, 'data')))
    t.notMatch(readFileSync(join(gallery, 'data', name), 'utf8'), /<\/script/i, `${name}: no raw </script`);
  const originalChannel = channels.get(String(original.channel_id));
  const at = originalChannel?.attachment_id.indexOf(String(original.attachment_id)) ?? -1;
  if (original.channel_id === resized.channel_id) {
    const other = originalChannel?.attachment_id.indexOf(String(resized.attachment_id));
    t.ok(originalChannel?.s[at]?.includes(other as number), 'the re-encode is listed as similar in the channel data');
  }

  // A second run: nothing decoded again, no thumbnail rewritten.
  const times = new Map(thumbs.map((name) => [name, statSync(join(gallery, 'thumbs', name)).mtimeMs]));
  const second = await runDps(['gallery', '--state', state, '--out', out]);
  t.equal(second.code, 0);
  t.match(second.lines.at(-1), { command: 'gallery', thumbnails_made: 0, thumbnails_kept: 5, warnings: 0 });
  t.same(second.lines.filter(ofEvent('warning')), [], 'no warning again');
  for (const [name, mtime] of times) t.equal(statSync(join(gallery, 'thumbs', name)).mtimeMs, mtime, `${name} untouched`);

  // dps similar: the original and its re-encode, nothing else.
  const similar = await runDps(['similar', '--state', state]);
  t.equal(similar.code, 0, `similar exit 0 (stderr: ${similar.stderr})`);
  t.same(problems(similar.lines), []);
  const groups = similar.lines.filter(ofEvent('similar'));
  const pair = groups.find((g) => (g.files as Line[]).some((f) => f.sha256 === original.sha256));
  t.ok(pair, 'a group holds the original');
  t.same(((pair?.files as Line[]) ?? []).map((f) => f.sha256).sort(), [original.sha256, resized.sha256].sort(), 'it and its re-encode, not the unrelated ones');
  t.ok((pair?.distance as number) <= 6);
  t.match(similar.lines.at(-1), { event: 'summary', command: 'similar', decoded: 0, distance: 6 });
  const strict = await runDps(['similar', '--state', state, '--distance', '0']);
  t.equal(strict.code, 0);
  t.notOk(
    strict.lines.filter(ofEvent('similar')).some((g) => (g.files as Line[]).some((f) => f.sha256 === unrelated.sha256)),
    'the unrelated picture is in no group',
  );

  // --gallery-dir outside --out, one channel: paths still reach the files.
  const elsewhere = join(dir, 'elsewhere', 'g');
  const one = await runDps(['gallery', '--state', state, '--out', out, '--gallery-dir', elsewhere, '--channel-id', String(original.channel_id)]);
  t.equal(one.code, 0, `--gallery-dir exit 0 (stderr: ${one.stderr})`);
  t.match(one.lines.at(-1), {
    channels: 1,
    thumbnails_made: thumbs.filter((name) => channels.get(String(original.channel_id))?.th.includes(`thumbs/${name}`)).length,
  });
  const away = readGallery(elsewhere);
  const items = away.channels.get(String(original.channel_id));
  const i = items?.attachment_id.indexOf(String(original.attachment_id)) ?? -1;
  t.equal(resolve(elsewhere, ...String(items?.f[i]).split('/').map(decodeURIComponent)), original.path);
  t.equal(away.channels.size, 1, 'only the selected channel');

  // scrape --gallery: the gallery follows the run's summary.
  const again = await runDps([...scrape, '--gallery'], { env });
  t.equal(again.code, 0, `scrape --gallery exit 0 (stderr: ${again.stderr})`);
  t.same(problems(again.lines), []);
  const summaries = again.lines.filter(ofEvent('summary'));
  t.same(
    summaries.map((s) => s.command ?? 'scrape'),
    ['scrape', 'gallery'],
    "the run's summary, then the gallery's",
  );
  t.match(summaries[1], { thumbnails_made: 0, files: records.length });
});

t.test('usage and state errors', async (t) => {
  const dir = t.testdir({ empty: {} });
  const distance = await runDps(['similar', '--state', join(dir, 'empty'), '--distance', '65']);
  t.equal(distance.code, 2);
  t.match(distance.stderr, /--distance must be a whole number of bits from 0 to 64, got "65"/);
  const id = await runDps(['gallery', '--state', join(dir, 'empty'), '--channel-id', 'general']);
  t.equal(id.code, 2);
  t.match(id.stderr, /--channel-id must be a Discord id .*"general"/);
  const none = await runDps(['gallery', '--state', join(dir, 'empty'), '--out', join(dir, 'out')]);
  t.equal(none.code, 5, 'no state: exit 5');
  t.same(readdirSync(join(dir, 'empty')), [], 'nothing created in the state folder');
  t.notOk(existsSync(join(dir, 'out')), 'nor a gallery');
});
