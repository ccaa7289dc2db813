// pages: a 1,000,000-message channel with 1% images and rate limits off, dps vs sequential raw page fetch + JSON.parse;
// and what --write-metadata costs (issue 23): dps at the defaults and with the flag in interleaved pairs.

import { dpsHasFlag, log, median, METADATA_PAIRS, pairRow, rotated, runDps, runScript, scratch, startFake, channelArgs, withinFivePercent } from '../common.js';
import type { BenchContext, ScenarioResult } from '../common.js';
import { UNLIMITED } from '../sizes.js';

export async function pages(ctx: BenchContext): Promise<ScenarioResult> {
  const messages = ctx.quick ? 100_000 : 1_000_000;
  const fake = await startFake({ scenario: { kind: 'channel', messages, imageRatio: 0.01 }, options: { rateLimit: UNLIMITED } });
  const ours: number[] = [];
  const raw: number[] = [];
  const ratios: number[] = [];
  const rss: number[] = [];
  // --write-metadata (sidecars) is measured once dps has it; each round runs the defaults and, if so, the flag.
  const metadata = dpsHasFlag('--write-metadata');
  const variants = metadata ? (['defaults', 'metadata'] as const) : (['defaults'] as const);
  const metaRate: number[] = [];
  const metaRatios: number[] = [];
  const rounds = Math.max(ctx.runs, metadata ? METADATA_PAIRS : 0);
  try {
    for (let run = 0; run < rounds; run++) {
      // The baseline in the scenario's first runs (its own figure), the pairs in every round.
      const baseline = run < ctx.runs ? (await runScript('baseline-raw.js', ['pages', fake.api, fake.token, fake.channel_ids[0]!])).result : undefined;
      if (baseline !== undefined && baseline.messages !== messages) throw new Error(`baseline saw ${baseline.messages} of ${messages} messages`);
      const rate: Record<string, number> = {};
      for (const which of rotated(variants, run)) {
        const dir = await scratch('pages');
        try {
          const extra = which === 'metadata' ? ['--write-metadata'] : [];
          const r = await runDps(fake, [...channelArgs(fake, dir), '--global-rate-limit', '100000', ...extra]);
          if (r.code !== 0 || r.summary?.messages !== messages)
            throw new Error(`dps (${which}) exited ${r.code} after ${r.summary?.messages} messages: ${r.stderr}`);
          const perSecond = (r.summary.messages / r.summary.elapsed_ms) * 1000;
          rate[which] = perSecond;
          if (which === 'metadata') metaRate.push(perSecond);
          else {
            ours.push(perSecond);
            rss.push(r.peakRssMB);
          }
          log(`pages run ${run + 1} (${which}): dps ${perSecond.toFixed(0)} msg/s (${r.summary.saved} images), peak RSS ${r.peakRssMB.toFixed(0)} MB`);
        } finally {
          dir.cleanup();
        }
      }
      if (baseline !== undefined) {
        raw.push(baseline.perSecond as number);
        ratios.push(rate.defaults! / (baseline.perSecond as number));
        log(`pages run ${run + 1}: raw ${(baseline.perSecond as number).toFixed(0)} msg/s`);
      }
      if (rate.metadata !== undefined) metaRatios.push(rate.metadata / rate.defaults!);
    }
  } finally {
    await fake.close();
  }
  const ratio = median(ratios);
  const fmt = (values: number[]): string => values.map((v) => v.toFixed(0)).join(', ');
  return {
    name: 'pages',
    title: 'Pages',
    command: `dps --server-id G --channel-id C (defaults, images downloaded too) vs baseline-raw.js pages (sequential GET ?after=&limit=100 + JSON.parse)${metadata ? `; and dps ... --write-metadata, ${rounds} rounds interleaved with the default runs (order alternating)` : '; --write-metadata not measured: this dps has no such flag'}`,
    setup: `${messages.toLocaleString('en')} messages, 1% with images (2-40 KB), rate limits off, no added latency; fake in its own process`,
    rows: [
      { figure: "dps messages/s (the run's elapsed_ms)", value: median(ours).toFixed(0), runs: fmt(ours) },
      { figure: 'baseline messages/s', value: median(raw).toFixed(0), runs: fmt(raw) },
      { figure: 'ratio dps / baseline', value: ratio.toFixed(3), runs: ratios.map((r) => r.toFixed(3)).join(', ') },
      { figure: 'dps peak RSS, MB', value: median(rss).toFixed(0), runs: fmt(rss) },
      // issue 23: the sidecars' cost, pairs interleaved with the default runs above
      ...(metadata ? [{ figure: 'dps --write-metadata messages/s', value: median(metaRate).toFixed(0), runs: fmt(metaRate) }] : []),
      pairRow('ratio --write-metadata / defaults, messages/s', metaRatios),
    ],
    // A figure, no longer a target: real Discord allows about one history page per second per channel, so this
    // unlimited walk measures CPU per page only (bench/limits.md, One transport).
    targets: [withinFivePercent('--write-metadata', metaRatios, metadata)],
    measuredAt: new Date().toISOString(),
    quick: ctx.quick,
    runs: rounds,
  };
}
