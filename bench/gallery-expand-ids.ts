// What rebuilding data version 3's ids costs the page (issue 25): the loop of web/app.ts expand (copied: the page
// is a classic script, nothing to import) over 200,000 packed ids, against version 2's loop (times and repeated
// message ids only), 7 interleaved runs each in this process. Run: node dist/bench/gallery-expand-ids.js

const N = 200_000;
const CANONICAL = /^(0|[1-9]\d{0,19})$/;

import type { ChannelItems } from '../web/data-types.js';

type Items = Pick<ChannelItems, 't' | 'message_id' | 'attachment_id'>;

// 1.5 files a message, message ids 13e9 to 1e14 apart (as the data-files test's), the first one whole.
function packed(): Items {
  const message_id: Array<string | number> = [];
  const attachment_id: Array<string | number> = [];
  for (let i = 0; i < N; i++) {
    message_id.push(i === 0 ? '1150000000000000000' : i % 3 === 1 ? 0 : 13_000_000_000 * (1 + (i % 7919)));
    attachment_id.push(i % 3);
  }
  return { t: new Array<number>(N).fill(1), message_id, attachment_id };
}

function version2(): Items {
  const items = packed();
  items.message_id = items.message_id.map((m, i) => (m === 0 ? '' : String(1_150_000_000_000_000_000n + BigInt(i))));
  items.attachment_id = items.attachment_id.map((_, i) => String(1_150_000_000_000_000_000n + BigInt(i)));
  return items;
}

function expand3(items: Items): void {
  let time = 0;
  let previous: bigint | null = 0n;
  let message = '';
  for (let i = 0; i < items.t.length; i++) {
    time += Number(items.t[i]) || 0;
    items.t[i] = time;
    const m = items.message_id[i];
    if (m === 0 && previous !== null) {
      // the same message
    } else if (typeof m === 'number' && Number.isSafeInteger(m) && previous !== null) {
      previous += BigInt(m);
      message = String(previous);
    } else if (typeof m === 'string') {
      previous = CANONICAL.test(m) ? BigInt(m) : null;
      message = m;
    } else {
      previous = null;
      message = '';
    }
    items.message_id[i] = message;
    const a = items.attachment_id[i];
    if (typeof a === 'number' && Number.isSafeInteger(a) && previous !== null) items.attachment_id[i] = String(previous + BigInt(a));
    else if (typeof a !== 'string') items.attachment_id[i] = '';
  }
}

function expand2(items: Items): void {
  let time = 0;
  let message = '';
  for (let i = 0; i < items.t.length; i++) {
    time += Number(items.t[i]) || 0;
    items.t[i] = time;
    if (items.message_id[i]) message = String(items.message_id[i]);
    else items.message_id[i] = message;
  }
}

const v3: number[] = [];
const v2: number[] = [];
for (let r = 0; r < 7; r++) {
  let items = packed();
  let start = performance.now();
  expand3(items);
  v3.push(performance.now() - start);
  items = version2();
  start = performance.now();
  expand2(items);
  v2.push(performance.now() - start);
}
const median = (x: number[]): string => ([...x].sort((p, q) => p - q)[3] ?? 0).toFixed(1);
const list = (x: number[]): string => x.map((v) => v.toFixed(1)).join(', ');
console.log(`version 3 expand, ms: ${list(v3)}; median ${median(v3)}`);
console.log(`version 2 expand, ms: ${list(v2)}; median ${median(v2)}`);
