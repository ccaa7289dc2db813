// dps stats: the aggregation (lib/output/stats.ts), the table (lib/output/stats-table.ts) and the library's
// stats() over a real LevelDB state (lib/index.ts).

import t from 'tap';
import { join } from 'node:path';
import { stats } from '../../lib/index.js';
import { StatsAggregator } from '../../lib/output/stats.js';
import type { StatsBy, StatsRow } from '../../lib/output/stats.js';
import { displayWidth, statsTable } from '../../lib/output/stats-table.js';
import { openStore } from '../../lib/store/open.js';
import type { AttachmentRecord } from '../../lib/types.js';

const G = '584171093229572103';
const C1 = '584172099862532107';
const C2 = '584172351520772108';

let n = 0;
function record(fields: Partial<AttachmentRecord>): AttachmentRecord {
  n++;
  return {
    attachment_id: String(1_000_000_000_000_000_000n + BigInt(n)),
    guild_id: G,
    channel_id: C1,
    message_id: String(2_000_000_000_000_000_000n + BigInt(n)),
    filename: `f${n}.png`,
    content_type: 'image/png',
    timestamp: '2021-03-04T12:00:00.000000+00:00',
    source: 'attachment',
    status: 'saved',
    path: `/archive/f${n}.png`,
    sha256: n.toString(16).padStart(64, '0'),
    bytes: 100,
    updated_at: '2026-01-01T00:00:00.000Z',
    ...fields,
  };
}

function rowsBy(by: StatsBy, records: AttachmentRecord[], names?: Record<string, string>): StatsRow[] {
  const aggregator = new StatsAggregator(by, (id) => names?.[id]);
  for (const r of records) aggregator.add(r);
  return aggregator.rows();
}

const sample = (): AttachmentRecord[] => [
  record({ bytes: 1000, timestamp: '2021-03-04T12:00:00.000000+00:00', author_id: '111111111111111111', author_name: 'old-name' }),
  record({ bytes: 1000, duplicate_of: '/archive/f1.png', timestamp: '2021-03-05T12:00:00+00:00', author_id: '111111111111111111', author_name: 'new-name' }),
  record({ bytes: 50, channel_id: C2, content_type: 'image/jpeg; charset=binary', timestamp: '2021-04-30T23:30:00-02:00' }), // May in UTC
  record({ status: 'failed', bytes: undefined, path: undefined, sha256: undefined, channel_id: C2, reason: 'http_503' }),
  record({ status: 'gone', bytes: undefined, path: undefined, sha256: undefined }),
  record({
    bytes: 7,
    content_type: undefined,
    filename: 'notes.TXT',
    timestamp: '2020-12-31T23:59:59+00:00',
    channel_name: 'general',
    author_id: '222222222222222222',
  }),
  record({ bytes: 3, content_type: undefined, filename: 'noext', timestamp: '2022-01-01T00:00:00+00:00' }),
];

t.test('per channel: files, duplicates, failed, bytes posted and on disk, first and last post; gone not counted', async (t) => {
  const rows = rowsBy('channel', sample(), { [C1]: 'general', [C2]: 'photos' });
  t.same(
    rows.map((r) => [r.by, r.key, r.name, r.files, r.duplicates, r.failed, r.bytes, r.bytes_on_disk]),
    [
      ['channel', C1, 'general', 4, 1, 0, 2010, 1010],
      ['channel', C2, 'photos', 1, 0, 1, 50, 50],
      ['total', 'all', null, 5, 1, 1, 2060, 1060],
    ],
  );
  t.equal(rows[0]!.guild_id, G);
  t.equal(rows[0]!.first_post, '2020-12-31T23:59:59+00:00', 'the oldest post, as stored');
  t.equal(rows[0]!.last_post, '2022-01-01T00:00:00+00:00');
  t.equal(rows[1]!.first_post, '2021-04-30T23:30:00-02:00', 'a failed file has no post time of its own');
  t.equal(rows[2]!.first_post, '2020-12-31T23:59:59+00:00');
});

t.test('per author: the newest name, records without an author are "unknown"', async (t) => {
  const rows = rowsBy('author', sample());
  const byKey = Object.fromEntries(rows.map((r) => [r.key, r]));
  t.equal(byKey['111111111111111111']?.name, 'new-name', "the author's newest name");
  t.equal(byKey['111111111111111111']?.files, 2);
  t.equal(byKey['222222222222222222']?.files, 1);
  t.equal(byKey.unknown?.files, 2, 'records without author_id');
  t.equal(byKey.unknown?.failed, 1);
  t.equal(byKey.unknown?.name, null);
});

t.test('per month (UTC, in order) and per type (content type without parameters, else the extension)', async (t) => {
  t.same(
    rowsBy('month', sample()).map((r) => [r.key, r.files, r.failed]),
    [
      ['2020-12', 1, 0],
      ['2021-03', 2, 1],
      ['2021-05', 1, 0],
      ['2022-01', 1, 0],
      ['all', 5, 1],
    ],
  );
  const types = Object.fromEntries(rowsBy('type', sample()).map((r) => [r.key, r.files]));
  t.same(types, { 'image/png': 2, 'image/jpeg': 1, '.txt': 1, unknown: 1, all: 5 });
});

t.test('the table: aligned in terminal columns, names escaped and cut, the total last', async (t) => {
  const names = { [C1]: '写真\u0301 photos', [C2]: `evil\x1b[2J${'x'.repeat(60)}` };
  const lines = statsTable(rowsBy('channel', sample(), names));
  t.equal(lines.length, 4, 'a header, two channels, the total');
  t.match(lines[0]!, /^CHANNEL\s+ID\s+FILES\s+DUPLICATES\s+FAILED\s+BYTES\s+ON DISK\s+FIRST POST\s+LAST POST$/);
  t.notOk(lines.join('\n').includes('\x1b'), 'no raw escape');
  t.match(lines.join('\n'), /evil\\x1b\[2J/, 'shown as a visible escape');
  t.match(lines.join('\n'), /…/, 'a long name is cut');
  const idColumn = lines.slice(1, 3).map((line) => displayWidth(line.slice(0, line.indexOf('5841'))));
  t.equal(new Set(idColumn).size, 1, `the id column starts at the same terminal column (wide and cut names): ${idColumn}`);
  t.match(lines[3]!, /^total\s+5\s+1\s+1\s+2\.1 KB\s+1\.1 KB\s+2020-12-31 23:59\s+2022-01-01 00:00$/);
  t.equal(displayWidth('写真'), 4, 'wide characters take two columns');
  t.equal(displayWidth('e\u0301'), 1, 'a combining mark takes none');
});

t.test('stats(): streams the state, read-only; a folder without a state is refused', async (t) => {
  const dir = t.testdir();
  const state = join(dir, 'state');
  const store = await openStore(state);
  await store.putChannel({
    guild_id: G,
    guild_name: 'g',
    channel_id: C1,
    channel_name: 'general',
    last_message_id: undefined,
    last_updated: '',
    total_images: 0,
    failed: 0,
  });
  for (const r of sample()) {
    if (r.status === 'saved') await store.recordSaved(r as AttachmentRecord & { sha256: string; path: string });
    else if (r.status === 'failed') await store.recordFailed(r);
  }
  await store.close();
  const rows = await stats(state);
  t.same(
    rows.map((r) => [r.key, r.name, r.files, r.failed, r.bytes, r.bytes_on_disk]),
    [
      [C1, 'general', 4, 0, 2010, 1010],
      [C2, '', 1, 1, 50, 50],
      ['all', null, 5, 1, 2060, 1060],
    ],
  );
  const one = await stats(state, { channelId: C2, by: 'month' });
  t.same(
    one.map((r) => [r.key, r.files, r.failed]),
    [
      ['2021-05', 1, 0],
      ['2021-03', 0, 1],
      ['all', 1, 1],
    ].sort((a, b) => (a[0]! < b[0]! ? -1 : 1)),
  );
  await t.rejects(stats(join(dir, 'nothing')), { code: 'DPS_NO_STATE' }, 'no state: refused');
  await t.rejects(stats(state, { by: 'week' as StatsBy }), { code: 'DPS_USAGE' });
  await t.rejects(stats(state, { guildId: 'abc' }), { code: 'DPS_USAGE', message: /--server-id.*"abc"/ });
});
