// realistic limits: 40 channels x 20,000 messages behind Discord-like limits (5 per 5 s per channel on history with
// headers advertising 1000, 50/s global, 80 ms latency), dps at the defaults; a duration-bounded run, stopped with
// SIGINT like a user.

import { log, median, round, runDps, scratch, startFake } from '../common.js';
import type { BenchContext, ScenarioResult } from '../common.js';
import { discordLike } from '../server-run.js';

export async function realistic(ctx: BenchContext): Promise<ScenarioResult> {
  const channels = 40;
  const messages = 20_000;
  const seconds = ctx.quick ? 20 : 60;
  const ceiling = Math.min(50, channels * 1);
  const achieved: number[] = [];
  const steady: number[] = [];
  const share429: number[] = [];
  const invalid: number[] = [];
  const counts429: number[] = [];
  const totals: number[] = [];
  for (let run = 0; run < ctx.runs; run++) {
    const fake = await startFake({
      scenario: { kind: 'server', channels, messages, imageRatio: 0.05, sizes: [2_000, 20_000] },
      options: { rateLimit: discordLike() },
      keepTimes: true,
    });
    const dir = await scratch('realistic');
    try {
      let started = 0;
      let stoppedAt = 0;
      const r = await runDps(fake, ['--server-id', fake.guild_id, '--all-channels', '--out', dir.out, '--state', dir.state], (child) => {
        started = Date.now();
        setTimeout(() => {
          stoppedAt = Date.now();
          child.kill('SIGINT');
        }, seconds * 1000);
      });
      if (r.code !== 130 && r.code !== 0) throw new Error(`dps exited ${r.code}: ${r.stderr}`);
      const s = await fake.stats();
      const end = stoppedAt || Date.now();
      const ok = s.historyTimes.filter(([at, status]) => status === 200 && at >= started && at <= end).length;
      const all = Object.values(s.api).reduce((a, b) => a + b, 0);
      const limited = s.api['429'] ?? 0;
      const rate = ok / ((end - started) / 1000);
      const firstHistory = Math.min(...s.historyTimes.map(([at]) => at));
      steady.push(s.historyTimes.filter(([at, status]) => status === 200 && at <= end).length / ((end - firstHistory) / 1000));
      achieved.push(rate);
      share429.push(limited / all);
      counts429.push(limited);
      totals.push(all);
      invalid.push(s.stats.invalid);
      log(
        `realistic run ${run + 1}: ${rate.toFixed(1)} history req/s (ceiling ${ceiling}), ${limited} of ${all} API requests answered 429, invalid ${s.stats.invalid}, ${r.summary?.messages ?? '?'} messages`,
      );
    } finally {
      dir.cleanup();
      await fake.close();
    }
  }
  const rate = median(achieved);
  const share = median(share429);
  const inv = median(invalid);
  const invalidShare = inv / 10_000;
  return {
    name: 'realistic',
    title: 'Realistic limits',
    command: `dps --server-id G --all-channels (defaults: no concurrency flag), SIGINT after ${seconds} s`,
    setup:
      `${channels} channels x ${messages.toLocaleString('en')} messages (5% with a 2-20 KB image); fake: history really 5 per 5 s per channel while ` +
      `headers advertise 1000, other buckets 50/s, 50/s global, +80 ms per API response. Duration-bounded: ${seconds} s of a run that would take ` +
      `${Math.round(messages / 100 / 1)} s at the ceiling (a reduction from the issue's full 20,000-message channels, which need ~200 s each).`,
    rows: [
      {
        figure: 'successful history requests/s (from spawn to SIGINT, start-up included)',
        value: rate.toFixed(1),
        runs: achieved.map((v) => v.toFixed(1)).join(', '),
      },
      {
        figure: 'successful history requests/s from the first history request to SIGINT (without target resolution)',
        value: median(steady).toFixed(1),
        runs: steady.map((v) => v.toFixed(1)).join(', '),
      },
      { figure: `ceiling min(50, channels x 1/s)`, value: String(ceiling) },
      { figure: 'ratio achieved / ceiling', value: (rate / ceiling).toFixed(3) },
      { figure: 'API requests answered 429 (share)', value: `${(share * 100).toFixed(2)}%`, runs: counts429.map((c, i) => `${c}/${totals[i]}`).join(', ') },
      { figure: 'invalid requests counted by the fake (401/403/non-shared 429)', value: String(inv), runs: invalid.join(', ') },
    ],
    targets: [
      { target: '>= 0.9 x ceiling', measured: `${round(rate / ceiling, 3)}`, met: rate / ceiling >= 0.9 },
      { target: '< 1% of requests answered 429', measured: `${(share * 100).toFixed(2)}%`, met: share < 0.01 },
      { target: 'invalid < 1% of 10,000 per 10 min over the run', measured: `${inv} (${(invalidShare * 100).toFixed(2)}%)`, met: inv < 100 },
    ],
    measuredAt: new Date().toISOString(),
    quick: ctx.quick,
    runs: ctx.runs,
  };
}
