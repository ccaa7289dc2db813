// downloads: one channel of 5,000 images of mixed sizes (10 KB - 8 MB, about 2 GB), dps at its defaults vs a bare undici loop
// writing through write streams (the issue's baseline), the same loop writing with writeSync (faster here), and
// that loop doing the least dps's guarantees require (sha256 of every byte, fsync before rename: the floor of
// any tool that dedupes by content and never leaves a partial file under a final name). And what issue 23's
// per-file work costs: dps with --write-metadata (a sidecar per file) and with --no-mtime (no file times set),
// each run in every round beside the default run, the order alternating (interleaved pairs: the default run between the two).

import { statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import {
  channelArgs,
  dpsHasFlag,
  log,
  median,
  METADATA_PAIRS,
  PAIRS,
  pairRow,
  removeScratch,
  rotated,
  round,
  runDps,
  runScript,
  scratch,
  startFake,
  withinFivePercent,
} from '../common.js';
import type { BenchContext, ScenarioResult } from '../common.js';
import { mixedSize } from '../sizes.js';

export async function downloads(ctx: BenchContext): Promise<ScenarioResult> {
  const images = ctx.quick ? 500 : 5_000;
  const metadata = dpsHasFlag('--write-metadata'); // measured once dps has it (issue 23)
  const runs = Math.max(ctx.runs, metadata ? METADATA_PAIRS : PAIRS);
  let total = 0;
  for (let i = 0; i < images; i++) total += mixedSize(i);
  const fs = statfsSync(tmpdir());
  const free = fs.bavail * fs.bsize;
  // Every run's files stay until the scenario ends (common.ts, removeScratch) while the disk has room: up to six
  // copies per round; a round starts only with room for its copies plus a margin (else the earlier ones go first).
  const perRound = total * ((metadata ? 6 : 5) + 0.5);
  const needed = perRound;
  if (free < needed) throw new Error(`downloads: needs ${(needed / 1e9).toFixed(1)} GB free in ${tmpdir()}, has ${(free / 1e9).toFixed(1)} GB`);
  const fake = await startFake({ scenario: { kind: 'downloads', images }, options: { rateLimit: { off: true } } });
  const concurrency = 8; // the baselines'; dps runs at its defaults
  // Per variant, one entry per run: MB/s, CPU seconds (user + system, all threads), and the fake's CPU seconds
  // while serving it. Ratios are taken per run (each pair minutes apart at most), then their median.
  // `meta`: dps --write-metadata; `nomtime`: dps --no-mtime (issue 23), beside `dps` in every round.
  const all = ['stream', 'sync', 'dps', 'durable', 'meta', 'nomtime'] as const;
  type Variant = (typeof all)[number];
  const baselines: readonly Variant[] = ['stream', 'sync', 'durable'];
  const dpsVariants: readonly Variant[] = metadata ? ['dps', 'meta', 'nomtime'] : ['dps', 'nomtime'];
  const metaOrder: readonly Variant[] = ['meta', 'dps', 'nomtime'];
  const dpsArgs: Partial<Record<Variant, string[]>> = { dps: [], meta: ['--write-metadata'], nomtime: ['--no-mtime'] };
  const perVariant = (): Record<Variant, number[]> => ({ stream: [], sync: [], dps: [], durable: [], meta: [], nomtime: [] });
  const mbs = perVariant();
  const cpu = perVariant();
  const fakeCpu = perVariant();
  const dpsWallMBs: number[] = [];
  try {
    for (let run = 0; run < runs; run++) {
      removeScratch({ unlessFreeAbove: perRound + 5e9 }); // earlier rounds' files go only when the disk needs the room
      // Rotate the order so page-cache and disk state favour none of them; the dps runs go one after another,
      // before the baselines in one round and after them in the next. With --write-metadata the default run is in
      // the middle, so each of its pairs is two runs in a row and each flag goes first in every other round (a
      // rotation of three put --write-metadata after the defaults in 5 rounds of 7, and 2 rounds apart from them).
      const group = metadata ? (run % 2 === 0 ? metaOrder : [...metaOrder].reverse()) : rotated(dpsVariants, run);
      const order = run % 2 === 0 ? [...group, ...rotated(baselines, run)] : [...rotated(baselines, run), ...group];
      for (const which of order) {
        const dir = await scratch('downloads');
        const fakeBefore = fake.cpuSeconds();
        try {
          const extra = dpsArgs[which];
          if (extra === undefined) {
            const { run: script, result } = await runScript('baseline-raw.js', [
              'downloads',
              fake.api,
              fake.token,
              fake.channel_ids[0]!,
              dir.out,
              String(concurrency),
              which,
            ]);
            if (result.bytes !== total) throw new Error(`baseline wrote ${result.bytes} of ${total} bytes`);
            mbs[which].push(result.mbPerSecond as number);
            cpu[which].push(script.cpuSeconds);
          } else {
            const r = await runDps(fake, [...channelArgs(fake, dir), ...extra]);
            if (r.code !== 0 || r.summary?.bytes !== total)
              throw new Error(`dps (${which}) exited ${r.code}, ${r.summary?.bytes} of ${total} bytes: ${r.stderr}`);
            mbs[which].push(r.summary.bytes / 1e6 / (r.summary.elapsed_ms / 1000));
            if (which === 'dps') dpsWallMBs.push(r.summary.bytes / 1e6 / (r.wallMs / 1000));
            cpu[which].push(r.cpuSeconds);
          }
          fakeCpu[which].push(fake.cpuSeconds() - fakeBefore);
        } finally {
          dir.cleanup();
        }
      }
      const [ours, raw, sync, durable] = [mbs.dps[run]!, mbs.stream[run]!, mbs.sync[run]!, mbs.durable[run]!];
      log(
        `downloads run ${run + 1}: dps ${ours.toFixed(0)} MB/s, raw ${raw.toFixed(0)} MB/s (ratio ${(ours / raw).toFixed(3)}), ` +
          `writeSync loop ${sync.toFixed(0)} MB/s (ratio ${(ours / sync).toFixed(3)}), durable loop ${durable.toFixed(0)} MB/s (ratio ${(ours / durable).toFixed(3)}); ` +
          `--no-mtime ${mbs.nomtime[run]!.toFixed(0)} MB/s${metadata ? `, --write-metadata ${mbs.meta[run]!.toFixed(0)} MB/s` : ''}`,
      );
    }
  } finally {
    await fake.close();
  }
  const perRun = (of: Variant, to: Variant): number[] => mbs[of].map((value, run) => value / mbs[to][run]!);
  const ratios = perRun('dps', 'stream');
  const syncRatios = perRun('dps', 'sync');
  const durableRatios = perRun('dps', 'durable');
  const floorRatios = perRun('durable', 'sync'); // what hashing and fsync cost by themselves
  const metaRatios = metadata ? perRun('meta', 'dps') : []; // above 1: faster than the defaults
  const mtimeRatios = perRun('dps', 'nomtime'); // the defaults (file times set) / --no-mtime
  const ratio = median(ratios);
  const syncRatio = median(syncRatios);
  const durableRatio = median(durableRatios);
  const floorRatio = median(floorRatios);
  const fmt = (values: number[]): string => values.map((v) => v.toFixed(0)).join(', ');
  const cpuRow = (what: string, which: Variant): { figure: string; value: string; runs: string } => ({
    figure: `CPU seconds of ${what} per run (user + system, all threads; process start and listing included) / of the fake meanwhile`,
    value: `${median(cpu[which]).toFixed(1)} / ${median(fakeCpu[which]).toFixed(1)}`,
    runs: cpu[which].map((v, i) => `${v.toFixed(1)} / ${fakeCpu[which][i]!.toFixed(1)}`).join(', '),
  });
  return {
    name: 'downloads',
    title: 'Downloads',
    command: `dps --server-id G --channel-id C (defaults: no concurrency flag; rate limits off)${metadata ? ', dps ... --write-metadata' : ''} and dps ... --no-mtime (in every round right before or after the default run, order alternating) vs baseline-raw.js downloads (undici, ${concurrency} at once, pipeline to createWriteStream) and baseline-raw.js downloads ... sync (the same loop with writeSync) and baseline-raw.js downloads ... durable (writeSync, sha256, fsync, rename)`,
    setup: `${images} images, one per message, 95% 10-400 KB and 5% 1-8 MB: ${(total / 1e9).toFixed(2)} GB; fake in its own process on loopback`,
    rows: [
      {
        figure: "dps MB/s (bytes / the run's elapsed_ms: pagination, state, hashing, fsync, rename included)",
        value: median(mbs.dps).toFixed(0),
        runs: fmt(mbs.dps),
      },
      { figure: 'dps MB/s incl. process start (wall clock of `node bin/dps.js`)', value: median(dpsWallMBs).toFixed(0), runs: fmt(dpsWallMBs) },
      { figure: 'baseline MB/s (download phase only, no hash, no fsync)', value: median(mbs.stream).toFixed(0), runs: fmt(mbs.stream) },
      { figure: 'ratio dps / baseline (median of per-run ratios)', value: ratio.toFixed(3), runs: ratios.map((r) => r.toFixed(3)).join(', ') },
      {
        figure: "writeSync loop MB/s (the same loop, each chunk written with writeSync: no round trip through libuv's pool per chunk)",
        value: median(mbs.sync).toFixed(0),
        runs: fmt(mbs.sync),
      },
      { figure: 'ratio dps / writeSync loop (median of per-run ratios)', value: syncRatio.toFixed(3), runs: syncRatios.map((r) => r.toFixed(3)).join(', ') },
      {
        figure: 'durable loop MB/s (the writeSync loop plus a sha256 of every byte, and each file fsynced under a temp name, then renamed)',
        value: median(mbs.durable).toFixed(0),
        runs: fmt(mbs.durable),
      },
      {
        figure: 'ratio durable loop / writeSync loop (what hashing and fsync alone cost; median of per-run ratios)',
        value: floorRatio.toFixed(3),
        runs: floorRatios.map((r) => r.toFixed(3)).join(', '),
      },
      {
        figure: 'ratio dps / durable loop (median of per-run ratios)',
        value: durableRatio.toFixed(3),
        runs: durableRatios.map((r) => r.toFixed(3)).join(', '),
      },
      cpuRow('dps', 'dps'),
      cpuRow('the streaming loop (baseline)', 'stream'),
      cpuRow('the writeSync loop', 'sync'),
      cpuRow('the durable loop', 'durable'),
      // issue 23: the per-file cost of sidecars and of file times, from the pairs interleaved with the dps runs above
      ...(metadata ? [{ figure: 'dps --write-metadata MB/s', value: median(mbs.meta).toFixed(0), runs: fmt(mbs.meta) }] : []),
      pairRow('ratio dps --write-metadata / dps, MB/s', metaRatios),
      ...(metadata ? [cpuRow('dps --write-metadata', 'meta')] : []),
      { figure: 'dps --no-mtime MB/s (no file times set)', value: median(mbs.nomtime).toFixed(0), runs: fmt(mbs.nomtime) },
      cpuRow('dps --no-mtime', 'nomtime'),
      pairRow('ratio dps (defaults: file times are post times) / dps --no-mtime, MB/s', mtimeRatios),
    ],
    targets: [
      { target: 'downloads >= 0.85 x baseline MB/s', measured: `${round(ratio, 3)}`, met: ratio >= 0.85 },
      { target: "downloads >= 0.85 x the writeSync loop's MB/s (the faster loop found)", measured: `${round(syncRatio, 3)}`, met: syncRatio >= 0.85 },
      {
        target: "downloads >= 0.85 x the durable loop's MB/s (the writeSync loop doing what dps guarantees: sha256, fsync before rename)",
        measured: `${round(durableRatio, 3)}`,
        met: durableRatio >= 0.85,
      },
      withinFivePercent('--write-metadata', metaRatios, metadata),
    ],
    measuredAt: new Date().toISOString(),
    quick: ctx.quick,
    runs,
  };
}
