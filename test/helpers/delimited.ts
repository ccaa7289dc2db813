// Readers for `dps manifest --format csv|tsv`, written independently of lib/output/manifest-format.ts so the
// tests parse what a spreadsheet or a script would: RFC 4180 CSV (quoted fields may hold commas, quotes doubled,
// CR and LF; records end with CRLF) and TSV with \\, \t, \n, \r escapes.

// Rows of cells; throws on anything RFC 4180 does not allow (a bare quote inside a field, a record not ended by CRLF).
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let i = 0;
  while (i < text.length) {
    let cell = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= text.length) throw new Error('unterminated quoted field');
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            cell += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        cell += text[i];
        i++;
      }
    } else {
      while (i < text.length && text[i] !== ',' && text[i] !== '\r' && text[i] !== '\n') {
        if (text[i] === '"') throw new Error(`bare quote at ${i}`);
        cell += text[i];
        i++;
      }
    }
    row.push(cell);
    if (text[i] === ',') {
      i++;
      continue;
    }
    if (text.startsWith('\r\n', i)) {
      rows.push(row);
      row = [];
      i += 2;
      continue;
    }
    throw new Error(`record not ended by CRLF at ${i}`);
  }
  if (row.length > 0) throw new Error('last record not ended by CRLF');
  return rows;
}

export function parseTsv(text: string): string[][] {
  if (!text.endsWith('\n')) throw new Error('TSV does not end with a newline');
  return text
    .slice(0, -1)
    .split('\n')
    .map((line) => {
      if (line.includes('\r')) throw new Error('a bare CR in a TSV row');
      return line.split('\t').map((cell) => cell.replace(/\\(.)/g, (_, c: string) => (c === 't' ? '\t' : c === 'n' ? '\n' : c === 'r' ? '\r' : c)));
    });
}
