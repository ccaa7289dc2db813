// Names that come from Discord (servers, channels, files) are chosen by strangers: printed raw on a terminal,
// `\x1b[2J` clears the screen, an OSC 8 sequence plants a link, a bidi override reverses what follows. Every
// line meant for a person on stderr passes through here; NDJSON on stdout keeps the exact text (JSON-escaped).

// Unicode's control characters (\p{Cc}: C0 controls, DEL, C1 controls U+0080..U+009F incl. the 8-bit CSI U+009B),
// and the bidi embeddings, overrides, isolates and marks (U+061C, U+200E/F, U+202A..U+202E, U+2066..U+2069); also
// the line and paragraph separators, which some terminals break lines on.
const UNSAFE = /[\p{Cc}\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;

// `text` with every control or bidi character written as a visible escape (`\x1b`, `\u202e`).
export function terminalSafe(text: string): string {
  return text.replace(UNSAFE, (char) => {
    const code = char.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}
