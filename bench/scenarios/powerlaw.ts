// powerlaw: a server of 200 channels whose sizes follow a power law (three of 50,000+ messages, most under 500;
// bench/sizes.ts) behind Discord-like limits (5 history requests per 5 s per channel: a run takes about 520 s, so
// the full bench runs it once), `dps --server-id G --all-channels` at the defaults run to completion: its wall time
// against the makespan bound at the same rates, and its peak RSS.

import { log, median, round } from '../common.js';
import type { BenchContext, ScenarioResult } from '../common.js';
import { boundNote, discordLike, makespanBound, runServer, serverRows } from '../server-run.js';
import type { ServerRun } from '../server-run.js';
import { powerLawMessages } from '../sizes.js';

export async function powerlaw(ctx: BenchContext): Promise<ScenarioResult> {
  const messages = powerLawMessages(ctx.quick ? 5 : 1);
  const total = messages.reduce((a, b) => a + b, 0);
  const limits = discordLike(5000);
  const count = ctx.quick ? ctx.runs : 1; // one run of about 9 minutes
  const bound = makespanBound(messages, limits);
  const runs: ServerRun[] = [];
  for (let run = 0; run < count; run++) {
    const r = await runServer(
      'powerlaw',
      {
        scenario: { kind: 'server', channels: messages.length, messages, imageRatio: 0.05, sizes: [2_000, 20_000] },
        options: { rateLimit: limits },
      },
      total,
    );
    runs.push(r);
    log(
      `powerlaw run ${run + 1}: ${(r.wallMs / 1000).toFixed(1)} s (bound ${(bound.ms / 1000).toFixed(1)} s, x${(r.wallMs / bound.ms).toFixed(3)}), ` +
        `${r.api429} of ${r.apiTotal} API requests answered 429, estimated_floor_ms ${r.floorMs ?? 'absent'}, peak RSS ${r.peakRssMB.toFixed(0)} MB`,
    );
  }
  const times = median(runs.map((r) => r.wallMs)) / bound.ms;
  const rss = median(runs.map((r) => r.peakRssMB));
  const share = median(runs.map((r) => r.api429 / r.apiTotal));
  const sorted = [...messages].sort((a, b) => b - a);
  const big = ctx.quick ? 10_000 : 50_000;
  const small = ctx.quick ? 100 : 500;
  return {
    name: 'powerlaw',
    title: 'Power-law server',
    command: 'dps --server-id G --all-channels (defaults: no concurrency flag), run to completion',
    setup:
      `${messages.length} channels, ${total.toLocaleString('en')} messages (5% with a 2-20 KB image): ${messages.filter((m) => m >= big).length} channels of ` +
      `${big.toLocaleString('en')}+ (${sorted
        .slice(0, 3)
        .map((m) => m.toLocaleString('en'))
        .join(', ')}), ${messages.filter((m) => m < small).length} under ${small}, ` +
      `the largest placed mid-list (bench/sizes.ts, powerLawMessages${ctx.quick ? ', every count / 5 in quick runs' : ''}). Fake: history really 5 per 5 s per channel ` +
      '(the bound uses the same 1 page/s) while headers advertise 1000, other buckets 50/s, ' +
      '50/s global, +80 ms per API response; a fresh fake per run. Wall time includes process start and the listing of channels and threads.',
    rows: serverRows(runs, bound),
    targets: [
      { target: 'wall time <= 1.15 x the makespan bound at the defaults', measured: `${round(times, 3)} x (${boundNote(runs, bound)})`, met: times <= 1.15 },
      { target: '< 1% of API requests answered 429', measured: `${(share * 100).toFixed(2)}%`, met: share < 0.01 },
      { target: 'peak RSS <= 150 MB on the 200-channel server at the defaults', measured: `${rss.toFixed(1)} MB`, met: rss <= 150 },
    ],
    measuredAt: new Date().toISOString(),
    quick: ctx.quick,
    runs: count,
  };
}
