// lib/output/terminal-safe.ts: every control or bidi character of a name becomes a visible escape.

import t from 'tap';
import { terminalSafe } from '../../lib/output/terminal-safe.js';

t.test('C0, DEL, C1 (incl. the 8-bit CSI) and bidi controls are escaped; the rest is kept', async (t) => {
  t.equal(terminalSafe('a\x1b[2Jb'), 'a\\x1b[2Jb', 'ESC of a CSI sequence');
  t.equal(terminalSafe('\x1b]8;;http://evil\x07x\x1b]8;;\x07'), '\\x1b]8;;http://evil\\x07x\\x1b]8;;\\x07', 'an OSC 8 link');
  t.equal(terminalSafe('x\x9b2Jy'), 'x\\x9b2Jy', 'the one-byte CSI (U+009B)');
  t.equal(terminalSafe('\x00\t\n\r\x7f\x85'), '\\x00\\x09\\x0a\\x0d\\x7f\\x85', 'NUL, tab, newline, CR, DEL, NEL');
  t.equal(terminalSafe('abc\u202egnp.exe'), 'abc\\u202egnp.exe', 'a right-to-left override');
  t.equal(terminalSafe('\u2066\u2069\u200f\u061c'), '\\u2066\\u2069\\u200f\\u061c', 'isolates and marks');
  t.equal(terminalSafe('фото 📷 (1).png, 写真'), 'фото 📷 (1).png, 写真', 'printable text is untouched');
});
