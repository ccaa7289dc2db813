// memory: peak RSS of `node bin/dps.js` at the defaults for 100,000 and 1,000,000 messages (1% images), the
// 200-channel power-law server, and a long scan with no images.

import { log, median, round, runDps, scratch, startFake, channelArgs } from '../common.js';
import type { BenchContext, ScenarioResult } from '../common.js';
import { UNLIMITED, powerLawMessages } from '../sizes.js';

// Peak RSS of whole-server runs of the power-law server (bench/sizes.ts), rate limits off: every channel as fast as
// dps schedules it, so as many channels in flight as its defaults allow.
async function serverPeak(messages: number[], runs: number): Promise<number[]> {
  const total = messages.reduce((a, b) => a + b, 0);
  const fake = await startFake({
    scenario: { kind: 'server', channels: messages.length, messages, imageRatio: 0.01 },
    options: { rateLimit: UNLIMITED },
  });
  const rss: number[] = [];
  try {
    for (let run = 0; run < runs; run++) {
      const dir = await scratch('memory');
      try {
        const r = await runDps(fake, ['--server-id', fake.guild_id, '--all-channels', '--out', dir.out, '--state', dir.state, '--global-rate-limit', '100000']);
        if (r.code !== 0 || r.summary?.messages !== total)
          throw new Error(`dps exited ${r.code} after ${r.summary?.messages} of ${total} messages: ${r.stderr}`);
        rss.push(r.peakRssMB);
        log(`memory ${messages.length}-channel server run ${run + 1}: peak RSS ${r.peakRssMB.toFixed(1)} MB, ${(r.summary.elapsed_ms / 1000).toFixed(1)} s`);
      } finally {
        dir.cleanup();
      }
    }
  } finally {
    await fake.close();
  }
  return rss;
}

async function peak(messages: number, imageRatio: number, runs: number): Promise<{ rss: number[]; perSecond: number[] }> {
  const fake = await startFake({ scenario: { kind: 'channel', messages, imageRatio }, options: { rateLimit: UNLIMITED } });
  const rss: number[] = [];
  const perSecond: number[] = [];
  try {
    for (let run = 0; run < runs; run++) {
      const dir = await scratch('memory');
      try {
        const r = await runDps(fake, [...channelArgs(fake, dir), '--global-rate-limit', '100000']);
        if (r.code !== 0 || r.summary?.messages !== messages) throw new Error(`dps exited ${r.code} after ${r.summary?.messages} messages: ${r.stderr}`);
        rss.push(r.peakRssMB);
        perSecond.push((messages / r.summary.elapsed_ms) * 1000);
        log(`memory ${messages} messages run ${run + 1}: peak RSS ${r.peakRssMB.toFixed(1)} MB, ${perSecond.at(-1)!.toFixed(0)} msg/s`);
      } finally {
        dir.cleanup();
      }
    }
  } finally {
    await fake.close();
  }
  return { rss, perSecond };
}

export async function memory(ctx: BenchContext, options: { scan?: number } = {}): Promise<ScenarioResult> {
  const small = ctx.quick ? 10_000 : 100_000;
  const large = ctx.quick ? 100_000 : 1_000_000;
  const a = await peak(small, 0.01, ctx.runs);
  const b = await peak(large, 0.01, ctx.runs);
  const serverMessages = powerLawMessages(ctx.quick ? 5 : 1);
  const server = await serverPeak(serverMessages, ctx.runs);
  // The long scan (no images) runs in the full suite; --scan N changes its size, --quick leaves it out.
  const scanSize = options.scan ?? (ctx.quick ? undefined : 10_000_000);
  const scan = scanSize !== undefined ? await peak(scanSize, 0, 1) : undefined;
  const ratio = median(b.rss) / median(a.rss);
  const fmt = (values: number[]): string => values.map((v) => v.toFixed(1)).join(', ');
  const rows = [
    { figure: `peak RSS, ${small.toLocaleString('en')} messages (MB)`, value: median(a.rss).toFixed(1), runs: fmt(a.rss) },
    { figure: `peak RSS, ${large.toLocaleString('en')} messages (MB)`, value: median(b.rss).toFixed(1), runs: fmt(b.rss) },
    { figure: 'ratio large / small', value: ratio.toFixed(3) },
    {
      figure: `peak RSS, the ${serverMessages.length}-channel power-law server (${serverMessages.reduce((a, c) => a + c, 0).toLocaleString('en')} messages, --all-channels) (MB)`,
      value: median(server).toFixed(1),
      runs: fmt(server),
    },
  ];
  if (scan) {
    rows.push({
      figure: `peak RSS, ${scanSize!.toLocaleString('en')} messages scanned, no images (MB, 1 run)`,
      value: median(scan.rss).toFixed(1),
      runs: `${median(scan.perSecond).toFixed(0)} msg/s`,
    });
    rows.push({
      figure: `ratio ${scanSize!.toLocaleString('en')} scanned / ${small.toLocaleString('en')}`,
      value: (median(scan.rss) / median(a.rss)).toFixed(3),
    });
  }
  return {
    name: 'memory',
    title: 'Memory',
    command:
      'node bin/dps.js --server-id G --channel-id C, and --server-id G --all-channels for the server (defaults, but --global-rate-limit 100000: the fake has no global limit); peak = VmHWM of the dps process from /proc, sampled every 50 ms',
    setup: `single channel, 1% of messages with 1-3 images of 2-40 KB; the power-law server of the powerlaw scenario${ctx.quick ? ' (counts / 5)' : ''}, 1% images; rate limits off; the fake in its own process`,
    rows,
    targets: [
      { target: `peak RSS <= 150 MB at ${large.toLocaleString('en')} messages`, measured: `${median(b.rss).toFixed(1)} MB`, met: median(b.rss) <= 150 },
      { target: 'peak RSS at the large size <= 1.2 x the small size', measured: `${round(ratio, 3)}`, met: ratio <= 1.2 },
      {
        target: `peak RSS <= 150 MB on the ${serverMessages.length}-channel server, rate limits off`,
        measured: `${median(server).toFixed(1)} MB`,
        met: median(server) <= 150,
      },
    ],
    notes: scan ? [] : ['The 10,000,000-message scan is left out of --quick runs; run `node dist/bench/run.js memory --scan 10000000`.'],
    measuredAt: new Date().toISOString(),
    quick: ctx.quick,
    runs: ctx.runs,
  };
}
