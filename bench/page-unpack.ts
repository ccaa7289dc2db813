// The gallery page's own dpsUnpack (web/unpack.ts: a data file's packed post times and ids made whole), for Node:
// the page is classic scripts with nothing to export, so the built unpack.js becomes the body of a function
// (vm.compileFunction) that returns its one global. Not a vm context of its own: there every global the loop
// reads (Number, BigInt, String) goes through the context's interceptor: bench/gallery-expand-ids.js measured a
// median of 306 ms that way against 66 to 96 ms this way (one run of 7 each, load average 5). Used by
// bench/gallery-expand-ids.ts and the tests' test/helpers/gallery-ids.ts.

import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { compileFunction } from 'node:vm';
import type { ChannelItems } from '../web/data-types.js';

export type PackedItems = Pick<ChannelItems, 't' | 'message_id' | 'attachment_id'>;

// Rewrites `items` in place, exactly as the page does when it loads a channel.
export type Unpack = (items: PackedItems) => void;

// The built page: dist/web beside dist/bench when compiled; from bench/*.ts (the test runner), dist/web.
const CANDIDATES = ['../web/unpack.js', '../dist/web/unpack.js'].map((p) => fileURLToPath(new URL(p, import.meta.url)));

// Loads dist/web/unpack.js (npm run build makes it).
export function pageUnpack(): Unpack {
  const file = CANDIDATES.find((candidate) => existsSync(candidate));
  if (file === undefined) throw new Error(`no built gallery page (${CANDIDATES.join(', ')}): run npm run build`);
  const unpack: unknown = compileFunction(`${readFileSync(file, 'utf8')}\nreturn dpsUnpack;`, [], { filename: file })();
  if (typeof unpack !== 'function') throw new Error(`${file} defines no dpsUnpack`);
  return unpack as Unpack;
}
