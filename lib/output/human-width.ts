// How many terminal cells a line takes, and the line cut to fit: the progress block must never wrap (a wrapped
// line breaks the cursor-up redraw and leaves copies of the block), and channel names are full of CJK and emoji,
// which take two cells. Counted per grapheme (Intl.Segmenter), erring wide: a line counted too wide is only cut
// shorter, one counted too narrow would wrap.

const segmenter = new Intl.Segmenter('en', { granularity: 'grapheme' });

// Zero-width: combining marks, variation selectors, joiners, format characters.
const ZERO_WIDTH = /^[\p{Mn}\p{Me}\p{Cf}]+$/u;
const PICTOGRAPH = /\p{Extended_Pictographic}|\p{Regional_Indicator}/u;

// Format characters that terminals draw in a cell of their own (wcwidth 1): the soft hyphen and the prepended
// concatenation marks (U+0600..U+0605 and others, which also join the next character's grapheme).
const VISIBLE_FORMAT = /[\u00ad\u0600-\u0605\u06dd\u070f\u0890\u0891\u08e2\u{110bd}\u{110cd}]/gu;

// Cells of one grapheme: 0, 1 or 2 (more when it holds visible format characters).
function graphemeWidth(grapheme: string): number {
  const visible = grapheme.match(VISIBLE_FORMAT)?.length ?? 0;
  if (visible > 0) {
    const rest = grapheme.replace(VISIBLE_FORMAT, '');
    return visible + (rest === '' ? 0 : graphemeWidth(rest));
  }
  if (ZERO_WIDTH.test(grapheme)) return 0;
  const code = grapheme.codePointAt(0) ?? 0;
  if (code < 0x20 || (code >= 0x7f && code < 0xa0)) return 0; // controls: terminal-safe text has none
  if (code < 0x1100) return grapheme.length > 1 && PICTOGRAPH.test(grapheme) ? 2 : 1; // ASCII and Latin fast path
  if (PICTOGRAPH.test(grapheme) || isWide(code)) return 2;
  return 1;
}

// East Asian Wide and Fullwidth blocks (Unicode's EastAsianWidth W/F), coarsely and on the wide side.
function isWide(code: number): boolean {
  return (
    (code >= 0x1100 && code <= 0x115f) || // Hangul Jamo
    (code >= 0x231a && code <= 0x231b) ||
    (code >= 0x2329 && code <= 0x232a) ||
    (code >= 0x23e9 && code <= 0x23f3) ||
    (code >= 0x25fd && code <= 0x25fe) ||
    (code >= 0x2614 && code <= 0x2615) ||
    (code >= 0x2648 && code <= 0x2653) ||
    (code >= 0x26aa && code <= 0x26ab) ||
    (code >= 0x26bd && code <= 0x26be) ||
    (code >= 0x26c4 && code <= 0x26c5) ||
    (code >= 0x2705 && code <= 0x27bf) ||
    (code >= 0x2b1b && code <= 0x2b55) ||
    (code >= 0x2e80 && code <= 0x303e) || // CJK radicals, punctuation
    (code >= 0x3041 && code <= 0x33ff) || // kana, CJK compatibility
    (code >= 0x3400 && code <= 0x4dbf) || // CJK extension A
    (code >= 0x4e00 && code <= 0x9fff) || // CJK unified ideographs
    (code >= 0xa000 && code <= 0xa4cf) || // Yi
    (code >= 0xa960 && code <= 0xa97f) ||
    (code >= 0xac00 && code <= 0xd7a3) || // Hangul syllables
    (code >= 0xf900 && code <= 0xfaff) || // CJK compatibility ideographs
    (code >= 0xfe10 && code <= 0xfe19) ||
    (code >= 0xfe30 && code <= 0xfe6f) ||
    (code >= 0xff00 && code <= 0xff60) || // fullwidth forms
    (code >= 0xffe0 && code <= 0xffe6) ||
    (code >= 0x16fe0 && code <= 0x18cff) || // Tangut, Khitan
    (code >= 0x1b000 && code <= 0x1b2ff) || // kana supplement
    (code >= 0x1f000 && code <= 0x1faff) || // mahjong, cards, emoji, symbols
    (code >= 0x20000 && code <= 0x3fffd) // CJK extensions B..
  );
}

// Terminal cells `text` takes (text without escape sequences).
export function displayWidth(text: string): number {
  let width = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0x20 && code < 0x7f) width++;
    else return width + segmentsWidth(text.slice(i));
  }
  return width;
}

function segmentsWidth(text: string): number {
  let width = 0;
  for (const { segment } of segmenter.segment(text)) width += graphemeWidth(segment);
  return width;
}

// `text` cut to at most `cells` cells, never inside a grapheme; a cut line ends with "…".
export function fitWidth(text: string, cells: number): string {
  if (cells <= 0) return '';
  if (displayWidth(text) <= cells) return text;
  let width = 0;
  let out = '';
  for (const { segment } of segmenter.segment(text)) {
    const w = graphemeWidth(segment);
    if (width + w > cells - 1) break;
    out += segment;
    width += w;
  }
  return `${out}…`;
}

// `text` padded with spaces to `cells` cells (cut when longer).
export function padWidth(text: string, cells: number): string {
  const fitted = fitWidth(text, cells);
  return fitted + ' '.repeat(Math.max(0, cells - displayWidth(fitted)));
}

// Each line of `text` (lines ending in "\n") cut to `cells` cells: the human output on a terminal never wraps.
export function fitLines(text: string, cells: number): string {
  return text.replace(/[^\n]+/g, (line) => fitWidth(line, cells));
}

// Each line of `text` broken into lines of at most `cells` cells (no cell is lost): log lines printed while the
// progress block is drawn never wrap on their own.
export function wrapLines(text: string, cells: number): string {
  if (cells <= 0) return text;
  return text.replace(/[^\n]+/g, (line) => {
    if (displayWidth(line) <= cells) return line;
    const out: string[] = [];
    let current = '';
    let width = 0;
    for (const { segment } of segmenter.segment(line)) {
      const w = graphemeWidth(segment);
      if (width + w > cells) {
        out.push(current);
        current = '';
        width = 0;
      }
      current += segment;
      width += w;
    }
    out.push(current);
    return out.join('\n');
  });
}
