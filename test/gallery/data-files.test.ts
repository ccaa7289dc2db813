// The data files: JSON in a call to window.dpsGallery, hostile strings (quotes, </script>, line separators,
// unicode) intact when the script runs and never raw `</script`; paths relative to the gallery folder, URL-encoded.

import t from 'tap';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { channelScript, indexScript, relativeUrl, scriptJson, writeAtomic } from '../../lib/gallery/data-files.js';
import { channelData } from '../../lib/gallery/channel-data.js';
import type { GalleryFile } from '../../lib/gallery/channel-data.js';
import { ID_CASES, unpackIds } from '../helpers/gallery-ids.js';

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
    version: 3,
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
    { ...base, attachment_id: '5', message_id: '4', author_id: 'A', content: '', hash: null, f: '../S/c/z.png', n: 'other.png', t: 5 },
  ];
  const data = channelData(files, { guild_id: null, channel_id: '9' });
  t.equal(data.version, 3);
  t.equal(data.guild_id, null, 'a DM: no guild');
  t.same(data.folders, ['../S/c', '../S/d'], 'each folder once');
  t.same(data.items.fd, [0, 0, 1, 0, 0]);
  t.same(data.items.n, ['x.png', 'x.png', 'a b#1.png', '2024_3_y.png', 'z.png'], 'the name on disk, decoded');
  t.same(data.items.o, [null, null, null, 7, 'other.png'], "Discord's filename only where it differs: here the end of the name on disk");
  const b64 = Buffer.from(sha, 'hex').toString('base64url');
  t.equal(b64.length, 43);
  t.same(data.items.th, [b64, b64, null, b64, b64], 'thumbnails by sha256, base64url');
  t.same(data.items.message_id, [1, 0, 1, 1, 1], "message ids as differences from the previous file's, 0 the same message");
  t.same(data.items.t, [1, 0, 0, 0, 4], 'post times as differences');
  t.notOk('j' in data.items, 'no jump URL stored');
  t.same(
    data.authors.map((a) => a.id),
    ['A', 'B'],
  );
  t.same(data.texts, ['hi', 'other']);
  t.same(data.items.a, [0, 0, 1, 0, 0]);
  t.same(data.items.x, [0, 0, -1, 1, -1]);
  t.same(data.items.s, [[1], [0], null, null, null], 'within 6 bits of each other; the rest none');
  t.same(data.items.attachment_id, [0, 1, 1, 1, 1], 'attachment ids as differences from their message id');
  t.same(unpackIds(data.items), { attachment_id: ['1', '2', '3', '4', '5'], message_id: ['1', '1', '2', '3', '4'] });
});

t.test('ids: packed small, rebuilt exactly (first file, far jumps, 2^53, leading zeros)', async (t) => {
  const base = {
    t: 1,
    author_id: 'A',
    author_name: 'n',
    author_display: 'd',
    content: '',
    f: 'x.png',
    n: 'x.png',
    th: null,
    k: 0,
    w: 1,
    h: 1,
    d: null,
    hash: null,
  };
  const data = channelData(
    ID_CASES.map((ids) => ({ ...base, ...ids })),
    { guild_id: '1', channel_id: '2' },
  );
  const [, got] = run(channelScript('2', data)).channel ?? [];
  const items = (got as typeof data).items;
  t.same(unpackIds(items), { message_id: ID_CASES.map((c) => c.message_id), attachment_id: ID_CASES.map((c) => c.attachment_id) }, 'every id exact');
  t.same(
    items.message_id,
    ['1150000000000000000', 0, 13000000, '42', 9007199254740951, '18446744073709551615', '1000', 1, '0042', '50', -50],
    'a number where the difference is exact in a double, else the id',
  );
  t.same(items.attachment_id, [1, 2, -13000001, -35, 1, '1', 9007199254740991, '9007199254741993', '0043', 1, 5]);
});

t.test('writeAtomic replaces a file and leaves no temp', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'data', 'index.js');
  await writeAtomic(file, 'one');
  await writeAtomic(file, 'two');
  t.equal(readFileSync(file, 'utf8'), 'two');
  t.same(readdirSync(join(dir, 'data')), ['index.js']);
});

// The issue's budget: 200,000 files' data under 40 MB. Realistic values: 19-digit snowflakes, about 1.5 files per
// message, the default name pattern ({date}_{message_id}_{filename}) on disk, camera filenames, a thumbnail for
// nearly every file, 200 authors, a text on a third of the messages, a few similar images.
t.test('200,000 files: the channel data file stays under 40 MB', async (t) => {
  const N = 200_000;
  const files: GalleryFile[] = [];
  let message = 1_150_000_000_000_000_000n;
  let attachment = message;
  let seconds = 1_600_000_000;
  for (let i = 0; i < N; i++) {
    if (i % 3 !== 1) {
      message += 1n + BigInt(i % 7919) * 13_000_000_000n;
      seconds += 1 + (i % 7919) * 3;
    }
    attachment = message + BigInt(i % 3);
    const date = new Date(seconds * 1000).toISOString().slice(0, 10);
    const name = `IMG_${date.replace(/-/g, '')}_${String(100000 + (i % 899999))}.jpg`;
    const sha = Buffer.from(String(i).padStart(32, '0')).toString('hex');
    files.push({
      attachment_id: String(attachment),
      message_id: String(message),
      t: seconds,
      author_id: String(100_000_000_000_000_000n + BigInt(i % 200)),
      author_name: `user${i % 200}`,
      author_display: `User ${i % 200}`,
      content: i % 9 === 0 ? `a message about picture ${i}, written by someone in the channel` : '',
      f: relativeUrl('/out/gallery', `/out/My Server_1100000000000000000/photos_1100000000000000001/${date}_${message}_${name}`),
      n: name,
      th: i % 40 === 0 ? null : `thumbs/${sha.slice(0, 2)}/${sha}.webp`,
      k: i % 40 === 0 ? 2 : 0,
      w: 4032,
      h: 3024,
      d: i % 500 === 0 ? 'a description of the picture' : null,
      hash:
        i % 20 === 0
          ? createHash('sha256')
              .update(String(Math.floor(i / 40)))
              .digest('hex')
              .slice(0, 16)
          : null, // pairs
    });
  }
  const data = channelData(files, { guild_id: '1100000000000000000', channel_id: '1100000000000000001' });
  const size = Buffer.byteLength(channelScript('1100000000000000001', data));
  t.comment(`200,000 files: ${(size / 1e6).toFixed(1)} MB of channel data`);
  for (const [key, column] of Object.entries(data.items)) t.comment(`  ${key}: ${(JSON.stringify(column).length / 1e6).toFixed(1)} MB`);
  t.ok(size < 40e6, `under 40 MB (${size} bytes)`);
});
