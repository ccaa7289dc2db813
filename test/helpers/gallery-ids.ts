// The gallery data's id columns rebuilt by the page's own code (web/unpack.ts, built to dist/web/unpack.js: a
// classic script, run in a vm context by bench/page-unpack.ts), for tests that read data files in Node: a message
// id is a difference from the previous file's (0: the same message), an attachment id a difference from its own
// message id, a string the id itself.

import { pageUnpack } from '../../bench/page-unpack.js';
import type { Unpack } from '../../bench/page-unpack.js';

let unpack: Unpack | undefined;

// The ids as the page rebuilds them (`items` is left as it was; no post times needed).
export function unpackIds(items: { attachment_id: Array<string | number>; message_id: Array<string | number> }): {
  attachment_id: string[];
  message_id: string[];
} {
  const copy = { t: items.message_id.map(() => 0), message_id: [...items.message_id], attachment_id: [...items.attachment_id] };
  unpack ??= pageUnpack();
  unpack(copy);
  return { attachment_id: copy.attachment_id as string[], message_id: copy.message_id as string[] };
}

// Ids that try the packing: the first file (19 digits, too far from 0 for a number), the same message again, a
// small difference, a far shorter id (too far back), differences just inside and just outside 2^53, the largest
// 64-bit id, ids with leading zeros (kept as written) and the canonical id after them.
export const ID_CASES: ReadonlyArray<{ message_id: string; attachment_id: string }> = [
  { message_id: '1150000000000000000', attachment_id: '1150000000000000001' },
  { message_id: '1150000000000000000', attachment_id: '1150000000000000002' },
  { message_id: '1150000000013000000', attachment_id: '1149999999999999999' },
  { message_id: '42', attachment_id: '7' },
  { message_id: '9007199254740993', attachment_id: '9007199254740994' },
  { message_id: '18446744073709551615', attachment_id: '1' },
  { message_id: '1000', attachment_id: String(1000n + 9007199254740991n) },
  { message_id: '1001', attachment_id: String(1001n + 9007199254740992n) },
  { message_id: '0042', attachment_id: '0043' },
  { message_id: '50', attachment_id: '51' },
  { message_id: '0', attachment_id: '5' },
];
