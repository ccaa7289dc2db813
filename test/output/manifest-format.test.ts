// dps manifest --format (lib/output/manifest-format.ts): hostile values (commas, quotes, CR, LF, tabs,
// backslashes, control characters, emoji) never break a row, and CSV (RFC 4180) and TSV parse back to the values.

import t from 'tap';
import { csvField, MANIFEST_COLUMNS, manifestFormatter, tsvField } from '../../lib/output/manifest-format.js';
import type { AttachmentRecord } from '../../lib/types.js';
import { parseCsv, parseTsv } from '../helpers/delimited.js';

const HOSTILE = [
  'plain',
  'a,b',
  'say "hi"',
  'line\nbreak',
  'cr\rlf\r\n',
  'tab\there',
  'back\\slash\\n',
  '\u0000\u0007\u001b[31m',
  '😀 фото',
  '',
  '"',
  ',',
  '\\t',
];

function record(content: string, over: Partial<AttachmentRecord> = {}): AttachmentRecord {
  return {
    attachment_id: '1',
    guild_id: '2',
    channel_id: '3',
    message_id: '4',
    filename: content || 'x',
    content_type: undefined,
    timestamp: '2024-01-01T00:00:00.000Z',
    source: 'attachment',
    status: 'saved',
    updated_at: '2024-01-01T00:00:00.000Z',
    content,
    description: content,
    author_display_name: content,
    ...over,
  };
}

const cellsOf = (r: AttachmentRecord): string[] =>
  MANIFEST_COLUMNS.map((c) => {
    const v = r[c];
    return v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v);
  });

t.test('CSV: RFC 4180 quoting, CRLF records, parsed back to every value', async (t) => {
  const f = manifestFormatter('csv');
  const records = HOSTILE.map((h, i) => record(h, { bytes: i, spoiler: i % 2 === 0, width: i === 0 ? undefined : 10, edited_timestamp: null }));
  const text = (f.header ?? '') + records.map((r) => f.row(r)).join('');
  const rows = parseCsv(text);
  t.same(rows[0], [...MANIFEST_COLUMNS], 'the header names the columns in their fixed order');
  t.same(rows.slice(1), records.map(cellsOf));
  t.equal(csvField('a"b'), '"a""b"', 'quotes doubled inside quotes');
  t.equal(csvField('plain'), 'plain', 'plain values stay bare');
  t.equal(csvField('x\ty'), '"x\ty"', 'a control character is quoted');
  t.ok(text.endsWith('\r\n'));
});

t.test('TSV: one line per record, tab, newline, CR and backslash escaped, parsed back', async (t) => {
  const f = manifestFormatter('tsv');
  const records = HOSTILE.map((h) => record(h));
  const text = (f.header ?? '') + records.map((r) => f.row(r)).join('');
  t.equal(text.split('\n').length - 1, records.length + 1, 'one line per record plus the header');
  const rows = parseTsv(text);
  t.same(rows[0], [...MANIFEST_COLUMNS]);
  t.same(rows.slice(1), records.map(cellsOf));
  t.equal(tsvField('a\tb\nc\\d\re'), 'a\\tb\\nc\\\\d\\re');
});

t.test('NDJSON: the record as stored, one line', async (t) => {
  const f = manifestFormatter('ndjson');
  t.equal(f.header, undefined);
  const r = record('x\ny');
  t.same(JSON.parse(f.row(r)), JSON.parse(JSON.stringify(r)));
  t.equal(f.row(r).split('\n').length, 2);
});

t.test('a record written before the metadata fields existed: empty cells, nothing invented', async (t) => {
  const old: AttachmentRecord = {
    attachment_id: '1',
    guild_id: '2',
    channel_id: '3',
    message_id: '4',
    filename: 'a.png',
    content_type: 'image/png',
    timestamp: '2024-01-01T00:00:00.000Z',
    source: 'attachment',
    status: 'saved',
    path: '/out/a.png',
    sha256: 'ab',
    bytes: 5,
    updated_at: '2024-01-01T00:00:00.000Z',
  };
  const [, row] = parseCsv(manifestFormatter('csv').header + manifestFormatter('csv').row(old));
  const byColumn = Object.fromEntries(MANIFEST_COLUMNS.map((c, i) => [c, row![i]]));
  t.match(byColumn, { attachment_id: '1', path: '/out/a.png', bytes: '5', content: '', author_display_name: '', jump_url: '', spoiler: '' });
});
