// A tiny terminal for the pseudo-terminal tests: replays what a program wrote (printable text, CR, LF, cursor up,
// erase line and erase below) on a screen of `columns` x `rows` with a scrollback, and records every write that
// reached the last column or wrapped. What is left on it (scrollback + screen) is what a person sees after the run.

import { displayWidth } from '../../lib/output/human-width.js';

const segmenter = new Intl.Segmenter('en', { granularity: 'grapheme' });
const ESC = String.fromCharCode(0x1b);
// An escape sequence (CSI, or ESC and one character), or any one character.
const TOKEN = new RegExp(`${ESC}\\[[0-9;?]*[A-Za-z]|${ESC}[^[]|[\\s\\S]`, 'gu');
const CSI = new RegExp(`^${ESC}\\[([0-9;?]*)([A-Za-z])$`);

export class TerminalScreen {
  readonly scrollback: string[] = [];
  private screen: string[][];
  private row = 0;
  private col = 0;
  // Writes that reached the last column (a line of `columns` cells, or one that wrapped): never allowed.
  readonly overflows: string[] = [];

  constructor(
    readonly columns: number,
    readonly rows: number,
  ) {
    this.screen = Array.from({ length: rows }, () => []);
  }

  write(data: string): void {
    // One token at a time: an escape sequence, a control character, or a character.
    const tokens = data.match(TOKEN) ?? [];
    let text = '';
    const flush = (): void => {
      for (const { segment } of segmenter.segment(text)) this.put(segment);
      text = '';
    };
    for (const token of tokens) {
      if (token.length === 1 && (token === '\r' || token === '\n' || token === '\b' || token === '\x07' || token === '\t')) {
        flush();
        if (token === '\r') this.col = 0;
        else if (token === '\n') {
          this.col = 0; // a tty's output post-processing (onlcr) sends "\n" as "\r\n"
          this.lineFeed();
        } else if (token === '\b') this.col = Math.max(0, this.col - 1);
      } else if (token.startsWith(ESC)) {
        flush();
        this.escape(token);
      } else text += token;
    }
    flush();
  }

  // Every line a person sees at the end, scrollback first, trailing blank lines dropped.
  lines(): string[] {
    const all = [...this.scrollback, ...this.screen.map((cells) => cells.join('').replace(/\s+$/, ''))];
    while (all.length > 0 && all[all.length - 1] === '') all.pop();
    return all.map((line) => line.replace(/\s+$/, ''));
  }

  private put(grapheme: string): void {
    const width = displayWidth(grapheme);
    if (width === 0) return;
    if (this.col + width > this.columns - 1) this.overflows.push(`row ${this.row}: ${this.screen[this.row]!.join('')}${grapheme}`);
    if (this.col + width > this.columns) {
      this.col = 0;
      this.lineFeed();
    }
    const line = this.screen[this.row]!;
    while (line.length < this.col) line.push(' ');
    line[this.col] = grapheme;
    for (let i = 1; i < width; i++) line[this.col + i] = '';
    this.col += width;
  }

  private lineFeed(): void {
    if (this.row < this.rows - 1) {
      this.row++;
      return;
    }
    this.scrollback.push(this.screen.shift()!.join('').replace(/\s+$/, ''));
    this.screen.push([]);
  }

  private escape(sequence: string): void {
    const match = CSI.exec(sequence);
    if (!match) return;
    const n = Number(match[1] || '1');
    switch (match[2]) {
      case 'A':
        this.row = Math.max(0, this.row - n);
        break;
      case 'J': // 0: from the cursor to the end of the screen
        if ((match[1] || '0') === '0') {
          this.screen[this.row] = this.screen[this.row]!.slice(0, this.col);
          for (let r = this.row + 1; r < this.rows; r++) this.screen[r] = [];
        }
        break;
      case 'K': // 2: the whole line; 0: to its end
        if (match[1] === '2') this.screen[this.row] = [];
        else this.screen[this.row] = this.screen[this.row]!.slice(0, this.col);
        break;
      default:
        break; // colours, cursor visibility: nothing on the screen
    }
  }
}
