// What rebuilding data version 3's ids costs the page (issue 25): the page's own dpsUnpack (web/unpack.ts, the
// built dist/web/unpack.js run in a vm context: bench/page-unpack.ts) over 200,000 packed ids, against version 2's
// loop (times and repeated message ids only), 7 interleaved runs each in this process.
// Run: node dist/bench/gallery-expand-ids.js (after npm run build and npx tsc -p tsconfig.bench.json)

import { pageUnpack } from './page-unpack.js';
import type { PackedItems as Items } from './page-unpack.js';

const N = 200_000;

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

const expand3 = pageUnpack(); // the page's own loop

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
