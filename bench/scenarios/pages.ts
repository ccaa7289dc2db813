// pages: a 1,000,000-message channel with 1% images and rate limits off, dps vs sequential raw page fetch + JSON.parse.

import { log, median, runDps, runScript, scratch, startFake, channelArgs } from '../common.js';
import type { BenchContext, ScenarioResult } from '../common.js';
import { UNLIMITED } from '../sizes.js';

export async function pages(ctx: BenchContext): Promise<ScenarioResult> {
  const messages = ctx.quick ? 100_000 : 1_000_000;
  const fake = await startFake({ scenario: { kind: 'channel', messages, imageRatio: 0.01 }, options: { rateLimit: UNLIMITED } });
  const ours: number[] = [];
  const raw: number[] = [];
  const ratios: number[] = [];
  const rss: number[] = [];
  try {
    for (let run = 0; run < ctx.runs; run++) {
      const { result } = await runScript('baseline-raw.js', ['pages', fake.api, fake.token, fake.channel_ids[0]!]);
      if (result.messages !== messages) throw new Error(`baseline saw ${result.messages} of ${messages} messages`);
      const dir = await scratch('pages');
      try {
        const r = await runDps(fake, [...channelArgs(fake, dir), '--global-rate-limit', '100000']);
        if (r.code !== 0 || r.summary?.messages !== messages) throw new Error(`dps exited ${r.code} after ${r.summary?.messages} messages: ${r.stderr}`);
        const perSecond = (r.summary.messages / r.summary.elapsed_ms) * 1000;
        ours.push(perSecond);
        raw.push(result.perSecond as number);
        ratios.push(perSecond / (result.perSecond as number));
        rss.push(r.peakRssMB);
        log(
          `pages run ${run + 1}: dps ${perSecond.toFixed(0)} msg/s (${r.summary.saved} images), raw ${(result.perSecond as number).toFixed(0)} msg/s, peak RSS ${r.peakRssMB.toFixed(0)} MB`,
        );
      } finally {
        dir.cleanup();
      }
    }
  } finally {
    await fake.close();
  }
  const ratio = median(ratios);
  const fmt = (values: number[]): string => values.map((v) => v.toFixed(0)).join(', ');
  return {
    name: 'pages',
    title: 'Pages',
    command: 'dps --server-id G --channel-id C (defaults, images downloaded too) vs baseline-raw.js pages (sequential GET ?after=&limit=100 + JSON.parse)',
    setup: `${messages.toLocaleString('en')} messages, 1% with images (2-40 KB), rate limits off, no added latency; fake in its own process`,
    rows: [
      { figure: "dps messages/s (the run's elapsed_ms)", value: median(ours).toFixed(0), runs: fmt(ours) },
      { figure: 'baseline messages/s', value: median(raw).toFixed(0), runs: fmt(raw) },
      { figure: 'ratio dps / baseline', value: ratio.toFixed(3), runs: ratios.map((r) => r.toFixed(3)).join(', ') },
      { figure: 'dps peak RSS, MB', value: median(rss).toFixed(0), runs: fmt(rss) },
    ],
    // A figure, no longer a target: real Discord allows about one history page per second per channel, so this
    // unlimited walk measures CPU per page only (bench/limits.md, One transport).
    targets: [],
    measuredAt: new Date().toISOString(),
    quick: ctx.quick,
    runs: ctx.runs,
  };
}
