// Strings that try to break code which treats some text specially (an ASCII fast path, a hand-built JSON): a
// seeded generator (the same strings every run) over pieces each known to trip a Unicode, path or JSON rule.

// Pieces a generated string is made of: plain ASCII and path syntax, then what NFKC, the case fold or JSON
// treat specially (Greek sigmas, ß, composed and decomposed é, fullwidth and ligature letters, the Kelvin sign,
// dotted and dotless i, control characters, quotes and backslashes, U+2028/2029, an emoji, lone surrogates).
export const PIECES: readonly string[] = [
  'a',
  'Z',
  'img',
  'IMG_0001',
  '.png',
  '.JSON',
  ' ',
  '~',
  '-',
  '_',
  '0',
  '/',
  '//',
  '.',
  '..',
  './',
  '../',
  '/./',
  '/../',
  '\\',
  '"',
  "'",
  '`',
  '%2F',
  'Σ',
  'σ',
  'ς',
  'ß',
  'ẞ',
  '\u00e9',
  'e\u0301',
  'E\u0301',
  'Ａ',
  'ａ',
  '１',
  'ﬁ',
  '\u212a',
  '\u0130',
  '\u0131',
  'ǅ',
  '\u00bd',
  '\u2126',
  '\u0000',
  '\u0001',
  '\t',
  '\n',
  '\r',
  '\u001f',
  '\u007f',
  '\u0085',
  '\u00a0',
  '\u2028',
  '\u2029',
  '\ufeff',
  '😀',
  '\ud83d',
  '\ude00',
  '\udfff\ud800',
];

// A seeded generator of 32-bit words (mulberry32): the same sequence for the same seed.
export function words(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return (z ^ (z >>> 14)) >>> 0;
  };
}

// `count` strings of 0 to `maxPieces` pieces. Half of them only take the first `asciiPieces` pieces (plain
// ASCII), so a fast path for ASCII is exercised as much as the rest.
export function hostileStrings(seed: number, count: number, maxPieces = 12): string[] {
  const next = words(seed);
  const asciiPieces = PIECES.indexOf('Σ');
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const pool = i % 2 === 0 ? asciiPieces : PIECES.length;
    let text = '';
    const length = next() % (maxPieces + 1);
    for (let j = 0; j < length; j++) text += PIECES[next() % pool];
    out.push(text);
  }
  return out;
}
