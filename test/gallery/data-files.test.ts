// The data files: JSON in a call to window.dpsGallery, hostile strings (quotes, </script>, line separators,
// unicode) intact when the script runs and never raw `</script`; paths relative to the gallery folder, URL-encoded.

import t from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { channelScript, indexScript, relativeUrl, scriptJson, writeAtomic } from '../../lib/gallery/data-files.js';
import { channelData } from '../../lib/gallery/channel-data.js';
import type { GalleryFile } from '../../lib/gallery/channel-data.js';

const HOSTILE = `a "quoted" </script><script>alert(1)</script> <!-- \u2028\u2029 é 🎉 \\ ' \` $\{x}`;

// Runs a data file as the page would and returns what it passed to window.dpsGallery.
function run(script: string): { index?: unknown; channel?: [string, unknown] } {
  const got: { index?: unknown; channel?: [string, unknown] } = {};
  runInNewContext(script, { window: { dpsGallery: { index: (d: unknown) => (got.index = d), channel: (id: string, d: unknown) => (got.channel = [id, d]) } } });
  return got;
}

t.test('hostile strings survive and never close the script', async (t) => {
  t.notMatch(scriptJson(HOSTILE), /<\/script/i);
  t.notMatch(scriptJson(HOSTILE), /</);
  t.notMatch(scriptJson(HOSTILE), /[\u2028\u2029]/);
  const index = indexScript({ version: 1, servers: [{ id: '1', name: HOSTILE, channels: [] }] });
  t.notMatch(index, /<\/script/i);
  t.same(run(index).index, { version: 1, servers: [{ id: '1', name: HOSTILE, channels: [] }] });
  const file: GalleryFile = {
    attachment_id: '10',
    message_id: '20',
    t: 1600000000,
    author_id: '30',
    author_name: HOSTILE,
    author_display: HOSTILE,
    content: HOSTILE,
    f: relativeUrl('/g', `/out/${HOSTILE}/x.png`),
    n: HOSTILE,
    th: null,
    k: 0,
    w: 1,
    h: 1,
    d: HOSTILE,
    hash: null,
  };
  const script = channelScript('2', channelData([file], { guild_id: '1', channel_id: '2' }));
  t.notMatch(script, /<\/script/i);
  const [id, data] = run(script).channel ?? [];
  t.equal(id, '2');
  t.match(data, {
    version: 2,
    guild_id: '1',
    channel_id: '2',
    authors: [{ id: '30', name: HOSTILE, display: HOSTILE }],
    texts: [HOSTILE],
    items: { n: ['x.png'], o: [HOSTILE], d: [HOSTILE] },
  });
  const folder = (data as { folders: string[] }).folders[0] as string;
  t.equal(folder.split('/').map(decodeURIComponent).join('/'), `../out/${HOSTILE}`, 'each component URL-encoded');
  t.notMatch(folder, /["<>#? ]/, 'nothing raw that a URL would misread');
});

t.test('relativeUrl: inside and outside the output folder', async (t) => {
  t.equal(relativeUrl('/data/out/gallery', '/data/out/Server_1/general_2/a b#1.png'), '../Server_1/general_2/a%20b%231.png');
  t.equal(relativeUrl('/elsewhere/gallery', '/data/out/S/c/x.png'), '../../data/out/S/c/x.png');
});

t.test('channelData: columnar, authors and texts once, similar indices', async (t) => {
  const sha = `aa${'0'.repeat(62)}`;
  const base = { t: 1, author_name: 'n', author_display: 'd', f: '../S/c/x.png', n: 'x.png', th: `thumbs/aa/${sha}.webp`, k: 0, w: 1, h: 1, d: null };
  const files: GalleryFile[] = [
    { ...base, attachment_id: '1', message_id: '1', author_id: 'A', content: 'hi', hash: '0000000000000000' },
    { ...base, attachment_id: '2', message_id: '1', author_id: 'A', content: 'hi', hash: '000000000000000f' },
    {
      ...base,
      attachment_id: '3',
      message_id: '2',
      author_id: 'B',
      content: '',
      hash: 'ffffffffffffffff',
      f: '../S/d/a%20b%231.png',
      n: 'a b#1.png',
      th: null,
    },
    { ...base, attachment_id: '4', message_id: '3', author_id: 'A', content: 'other', hash: null, f: '../S/c/2024_3_y.png', n: 'y.png' },
  ];
  const data = channelData(files, { guild_id: null, channel_id: '9' });
  t.equal(data.version, 2);
  t.equal(data.guild_id, null, 'a DM: no guild');
  t.same(data.folders, ['../S/c', '../S/d'], 'each folder once');
  t.same(data.items.fd, [0, 0, 1, 0]);
  t.same(data.items.n, ['x.png', 'x.png', 'a b#1.png', '2024_3_y.png'], 'the name on disk, decoded');
  t.same(data.items.o, [null, null, null, 'y.png'], "Discord's filename only where it differs");
  t.same(data.items.th, [sha, sha, null, sha], 'thumbnails by sha256');
  t.notOk('j' in data.items, 'no jump URL stored');
  t.same(
    data.authors.map((a) => a.id),
    ['A', 'B'],
  );
  t.same(data.texts, ['hi', 'other']);
  t.same(data.items.a, [0, 0, 1, 0]);
  t.same(data.items.x, [0, 0, -1, 1]);
  t.same(data.items.s, [[1], [0], null, null], 'within 6 bits of each other; the rest none');
  t.same(data.items.attachment_id, ['1', '2', '3', '4']);
});

t.test('writeAtomic replaces a file and leaves no temp', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'data', 'index.js');
  await writeAtomic(file, 'one');
  await writeAtomic(file, 'two');
  t.equal(readFileSync(file, 'utf8'), 'two');
  t.same(readdirSync(join(dir, 'data')), ['index.js']);
});
