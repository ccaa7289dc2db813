// `dps stats` on a terminal: the rows of lib/output/stats.ts as an aligned table. Names come from strangers, so
// they are escaped (terminal-safe.ts) and measured in terminal columns (a CJK character or an emoji takes two, a
// combining mark none), and a long one is cut with an ellipsis so the columns stay aligned.

import { formatBytes } from './progress.js';
import type { StatsRow } from './stats.js';
import { terminalSafe } from './terminal-safe.js';

// The widest a name column gets, in terminal columns.
const NAME_COLUMNS = 32;

const TITLES: Record<StatsRow['by'], string> = { channel: 'CHANNEL', author: 'AUTHOR', month: 'MONTH', type: 'TYPE', total: '' };

// The table as lines (no trailing newline), the total last.
export function statsTable(rows: readonly StatsRow[]): string[] {
  const by = rows.find((r) => r.by !== 'total')?.by ?? 'channel';
  const named = by === 'channel' || by === 'author';
  const header = [TITLES[by], ...(named ? ['ID'] : []), 'FILES', 'DUPLICATES', 'FAILED', 'BYTES', 'ON DISK', 'FIRST POST', 'LAST POST'];
  const body = rows.map((row) => {
    const label = row.by === 'total' ? 'total' : named ? fit(terminalSafe(row.name || row.key), NAME_COLUMNS) : terminalSafe(row.key);
    const id = row.by === 'total' ? '' : terminalSafe(row.key);
    return [
      label,
      ...(named ? [id] : []),
      String(row.files),
      String(row.duplicates),
      String(row.failed),
      formatBytes(row.bytes),
      formatBytes(row.bytes_on_disk),
      postTime(row.first_post),
      postTime(row.last_post),
    ];
  });
  const table = [header, ...body];
  const widths = header.map((_, c) => Math.max(...table.map((cells) => displayWidth(cells[c]!))));
  const textColumns = named ? 2 : 1; // left-aligned; the counts and sizes are right-aligned
  return table.map((cells) =>
    cells
      .map((cell, c) => {
        const pad = ' '.repeat(widths[c]! - displayWidth(cell));
        return c < textColumns || c >= header.length - 2 ? cell + pad : pad + cell;
      })
      .join('  ')
      .trimEnd(),
  );
}

// "2021-03-04T12:00:00.000000+00:00" -> "2021-03-04 12:00" (UTC); "-" for none.
function postTime(timestamp: string | null): string {
  if (timestamp === null) return '-';
  const at = Date.parse(timestamp);
  return Number.isNaN(at) ? terminalSafe(timestamp) : new Date(at).toISOString().slice(0, 16).replace('T', ' ');
}

// Zero-width: combining marks (by category), and zero-width spaces, joiners and variation selectors.
const MARK = /^\p{M}$/u;
const ZERO_RANGES: ReadonlyArray<readonly [number, number]> = [
  [0x200b, 0x200d],
  [0x2060, 0x2060],
  [0xfe00, 0xfe0f],
  [0xe0100, 0xe01ef],
];
// Two columns: East Asian wide and fullwidth characters, and emoji shown as pictures.
const WIDE_RANGES: ReadonlyArray<readonly [number, number]> = [
  [0x1100, 0x115f],
  [0x2e80, 0x303e],
  [0x3041, 0x33ff],
  [0x3400, 0x4dbf],
  [0x4e00, 0x9fff],
  [0xa000, 0xa4cf],
  [0xac00, 0xd7a3],
  [0xf900, 0xfaff],
  [0xfe30, 0xfe4f],
  [0xff00, 0xff60],
  [0xffe0, 0xffe6],
  [0x1f300, 0x1f64f],
  [0x1f900, 0x1f9ff],
  [0x1fa70, 0x1faff],
  [0x20000, 0x3fffd],
];

const within = (code: number, ranges: ReadonlyArray<readonly [number, number]>): boolean => ranges.some(([from, to]) => code >= from && code <= to);

// The columns one character takes: 0, 1 or 2.
function charWidth(char: string): number {
  const code = char.codePointAt(0)!;
  if (MARK.test(char) || within(code, ZERO_RANGES)) return 0;
  return within(code, WIDE_RANGES) ? 2 : 1;
}

// How many terminal columns `text` takes (a reasonable approximation of wcwidth).
export function displayWidth(text: string): number {
  let width = 0;
  for (const char of text) width += charWidth(char);
  return width;
}

// `text` cut to at most `columns` terminal columns, ending with "…" when cut.
export function fit(text: string, columns: number): string {
  if (displayWidth(text) <= columns) return text;
  let out = '';
  let width = 0;
  for (const char of text) {
    const w = charWidth(char);
    if (width + w > columns - 1) break;
    out += char;
    width += w;
  }
  return `${out}…`;
}
