// The gallery data's id columns rebuilt the way the page rebuilds them (web/app.ts expand), for tests that read
// data files in Node: a message id is a difference from the previous file's (0: the same message; the first from
// 0), an attachment id a difference from its own message id, a string the id itself.

const CANONICAL = /^(0|[1-9]\d{0,19})$/;

export function unpackIds(items: { attachment_id: Array<string | number>; message_id: Array<string | number> }): {
  attachment_id: string[];
  message_id: string[];
} {
  const attachment_id: string[] = [];
  const message_id: string[] = [];
  let previous: bigint | null = 0n;
  let message = '';
  for (const [i, m] of items.message_id.entries()) {
    if (typeof m === 'number' && Number.isSafeInteger(m) && previous !== null) {
      previous += BigInt(m);
      message = String(previous);
    } else if (typeof m === 'string') {
      previous = CANONICAL.test(m) ? BigInt(m) : null;
      message = m;
    } else {
      previous = null;
      message = '';
    }
    message_id.push(message);
    const a = items.attachment_id[i];
    attachment_id.push(typeof a === 'number' && Number.isSafeInteger(a) && previous !== null ? String(previous + BigInt(a)) : typeof a === 'string' ? a : '');
  }
  return { attachment_id, message_id };
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
