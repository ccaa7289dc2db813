// `dps manifest --format ndjson|csv|tsv`: one state record per line, as NDJSON (the record as stored), CSV
// (RFC 4180) or TSV, with a fixed column order so a spreadsheet or a script can rely on it (README, "Manifest").
// Record values come from Discord (message text, names, alt text) and are hostile: a comma, quote, tab, CR, LF
// or any other control character never breaks a row.

import type { AttachmentRecord } from '../types.js';

export const MANIFEST_FORMATS = ['ndjson', 'csv', 'tsv'] as const;
export type ManifestFormat = (typeof MANIFEST_FORMATS)[number];

// The CSV and TSV columns, in this order (the state record's fields; internal ones such as unique_name, index
// and the signed `url` are left out). A record without a field (written before dps kept it) has an empty cell.
export const MANIFEST_COLUMNS = [
  'status',
  'guild_id',
  'guild_name',
  'channel_id',
  'channel_name',
  'thread_name',
  'message_id',
  'timestamp',
  'edited_timestamp',
  'author_id',
  'author_name',
  'author_display_name',
  'author_bot',
  'content',
  'attachment_id',
  'filename',
  'content_type',
  'size',
  'width',
  'height',
  'description',
  'spoiler',
  'source',
  'path',
  'bytes',
  'sha256',
  'duplicate_of',
  'reason',
  'attempts',
  'jump_url',
  'updated_at',
] as const satisfies readonly (keyof AttachmentRecord)[];

// How records become text: an optional header line, then one line per record (each line ends with its terminator).
export interface ManifestFormatter {
  header: string | undefined;
  row(record: AttachmentRecord): string;
}

export function isManifestFormat(value: string): value is ManifestFormat {
  return (MANIFEST_FORMATS as readonly string[]).includes(value);
}

export function manifestFormatter(format: ManifestFormat): ManifestFormatter {
  switch (format) {
    case 'ndjson':
      return { header: undefined, row: (record) => `${JSON.stringify(record)}\n` };
    case 'csv':
      // RFC 4180 ends every record, the header included, with CRLF; quoted fields may hold CR and LF.
      return { header: `${MANIFEST_COLUMNS.join(',')}\r\n`, row: (record) => `${cells(record).map(csvField).join(',')}\r\n` };
    case 'tsv':
      return { header: `${MANIFEST_COLUMNS.join('\t')}\n`, row: (record) => `${cells(record).map(tsvField).join('\t')}\n` };
  }
}

// A record's cells in column order: strings as they are, numbers and booleans in JSON spelling, absent and null
// empty.
function cells(record: AttachmentRecord): string[] {
  return MANIFEST_COLUMNS.map((column) => {
    const value: unknown = record[column];
    if (value === undefined || value === null) return '';
    return typeof value === 'string' ? value : JSON.stringify(value);
  });
}

// RFC 4180, section 2: a field holding a comma, a double quote, CR or LF is quoted, its quotes doubled. Other
// control characters are quoted too (they break no row, but some readers trip on them bare).
export function csvField(value: string): string {
  return needsQuotes(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

function needsQuotes(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code < 0x20 || code === 0x7f || code === 0x22 || code === 0x2c) return true;
  }
  return false;
}

// TSV (the IANA text/tab-separated-values type forbids tabs and newlines in fields): backslash, tab, LF and CR
// are escaped as \\, \t, \n and \r, so every record is one line and a reader unescapes them.
export function tsvField(value: string): string {
  return value.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}
