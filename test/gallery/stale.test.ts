// lib/gallery/stale.ts: which channels of the last index a run judges stale (only those its selection covers),
// and what removeStale takes out: their data files, thumbnails no kept channel shows, nothing when a kept
// channel's data file cannot be read, and never a name the gallery does not write.

import t from 'tap';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IndexChannel, IndexServer } from '../../web/data-types.js';
import { channelScript } from '../../lib/gallery/data-files.js';
import { removeStale, staleChannels } from '../../lib/gallery/stale.js';

const entry = (id: string): IndexChannel => ({ id, name: id, kind: 'channel', count: 1, first: '', last: '', cover: null, data: `data/c-${id}.js` });
const servers: IndexServer[] = [
  { id: '10', name: 'one', channels: [entry('11'), entry('12')] },
  { id: '20', name: 'two', channels: [entry('21')] },
];

t.test('staleChannels: listed, not written, within the selection', async (t) => {
  t.same([...staleChannels(servers, new Set(['11']), {})].sort(), ['12', '21'], 'every channel not written, without a selection');
  t.same([...staleChannels(servers, new Set(['11']), { guildId: '10' })], ['12'], 'another server is not judged');
  t.same([...staleChannels(servers, new Set(['11']), { channelIds: ['11'] })], [], 'channels outside --channel-id are not judged');
  t.same([...staleChannels(servers, new Set(), { channelIds: ['21'] })], ['21'], 'a selected channel with no files is');
  t.same([...staleChannels(servers, new Set(['11', '12', '21']), {})], [], 'nothing when every channel is written');
});

const sha = (c: string): string => c.repeat(64);
const thumbFile = (dir: string, s: string): string => join(dir, 'thumbs', s.slice(0, 2), `${s}.webp`);
// A channel data file whose rows show these thumbnails (the th column: base64url sha256s).
const dataFile = (id: string, shas: string[]): string =>
  channelScript(id, { items: { th: [...shas.map((s) => Buffer.from(s, 'hex').toString('base64url')), null] } }, 'digest');

t.test('removeStale: the data file, the thumbnails no one shows; nothing else', async (t) => {
  const dir = t.testdir();
  mkdirSync(join(dir, 'data'));
  for (const s of [sha('a'), sha('b'), sha('c'), sha('d')]) {
    mkdirSync(join(dir, 'thumbs', s.slice(0, 2)), { recursive: true });
    writeFileSync(thumbFile(dir, s), 'webp');
  }
  writeFileSync(join(dir, 'thumbs', 'aa', 'not-a-thumb.webp'), 'x');
  writeFileSync(join(dir, 'data', 'c-12.js'), dataFile('12', [sha('b')]));
  writeFileSync(join(dir, 'data', 'c-21.js'), dataFile('21', [sha('c')]));
  writeFileSync(join(dir, 'data', 'c-99.js'), 'not listed');
  // 11 written this run (shows a), 21 kept (shows c), 12 stale (showed b); d: shown by no one.
  const removed = await removeStale(dir, new Set(['12']), ['21'], new Set([sha('a')]));
  t.same(removed.sort(), ['data/c-12.js', `thumbs/bb/${sha('b')}.webp`, `thumbs/dd/${sha('d')}.webp`].sort());
  t.notOk(existsSync(join(dir, 'data', 'c-12.js')), 'the stale data file is gone');
  t.ok(existsSync(thumbFile(dir, sha('a'))), "this run's thumbnail stays");
  t.ok(existsSync(thumbFile(dir, sha('c'))), "a kept channel's thumbnail stays");
  t.ok(existsSync(join(dir, 'thumbs', 'aa', 'not-a-thumb.webp')), 'a name the gallery does not write stays');
  t.ok(existsSync(join(dir, 'data', 'c-99.js')), 'a data file the index did not list stays');
  t.notOk(existsSync(join(dir, 'thumbs', 'dd')), 'an emptied thumbs folder goes');
});

t.test("removeStale: a kept channel's unreadable data file keeps every thumbnail", async (t) => {
  const dir = t.testdir();
  mkdirSync(join(dir, 'data'));
  mkdirSync(join(dir, 'thumbs', 'bb'), { recursive: true });
  writeFileSync(thumbFile(dir, sha('b')), 'webp');
  writeFileSync(join(dir, 'data', 'c-12.js'), dataFile('12', [sha('b')]));
  writeFileSync(join(dir, 'data', 'c-21.js'), 'window.dpsGallery.channel("21", {broken');
  const removed = await removeStale(dir, new Set(['12']), ['21', '22'], new Set());
  t.same(removed, ['data/c-12.js'], 'only the data file');
  t.ok(existsSync(thumbFile(dir, sha('b'))), 'the thumbnail stays: what 21 shows is unknown');
  t.same(await removeStale(dir, new Set(), [], new Set()), [], 'nothing stale: nothing removed, nothing read');
});
