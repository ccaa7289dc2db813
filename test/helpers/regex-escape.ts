// Regex escapes for control characters, built at run time: tests that check escaping match raw control
// characters, and a regex literal may not spell them (lint: noControlCharactersInRegex).

// `\uXXXX` for one code point in the BMP, as regex source text.
export function regexChar(code: number): string {
  return `\\u${code.toString(16).padStart(4, '0')}`;
}

// `\uXXXX-\uYYYY`, a character-class range, as regex source text.
export function regexRange(from: number, to: number): string {
  return `${regexChar(from)}-${regexChar(to)}`;
}
