// cdn: downloads behind a CDN with 60 ms to the first byte, dps at its defaults against the seed plan's design
// (discord.py + aiohttp, 8 downloads at once: bench/python-peer.ts) in interleaved pairs; then the same CDN
// answering 429 (Retry-After) to downloads beyond 16 in flight: how many downloads dps gets answered 429 (the
// fake's own count), and whether every file arrives intact (matched by size and sha256 against the fake's list).

import { statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { channelArgs, log, median, round, runDps, scratch, startFake } from '../common.js';
import type { BenchContext, Row, ScenarioResult } from '../common.js';
import { findPeer, runPeer } from '../python-peer.js';
import { mixedSize } from '../sizes.js';
import { verifyFolder } from '../verify.js';

const LATENCY_MS = 60;
const CDN_LIMIT = 16;
const PEER_CONCURRENCY = 8;

export async function cdn(ctx: BenchContext): Promise<ScenarioResult> {
  const images = ctx.quick ? 300 : 1_022;
  const pairs = ctx.quick ? Math.min(2, ctx.runs) : ctx.runs;
  const limitedRuns = ctx.quick ? 1 : 3;
  let total = 0;
  for (let i = 0; i < images; i++) total += mixedSize(i);
  const fs = statfsSync(tmpdir());
  // Every run's files stay at least until the scenario ends (common.ts, removeScratch).
  if (fs.bavail * fs.bsize < total * (2 * pairs + limitedRuns + 0.5)) throw new Error('cdn: not enough free disk space');
  const peer = await findPeer();
  const fmt = (values: number[], digits = 0): string => values.map((v) => v.toFixed(digits)).join(', ');

  // 1. dps at the defaults against the peer at 8, interleaved: dps first in odd pairs, the peer first in even ones.
  const ours: number[] = [];
  const oursWall: number[] = [];
  const theirs: number[] = [];
  const theirsWall: number[] = [];
  const inFlight: number[] = [];
  if (peer) {
    const fake = await startFake({ scenario: { kind: 'downloads', images }, options: { rateLimit: { off: true }, cdnLatencyMs: LATENCY_MS } });
    try {
      for (let pair = 0; pair < pairs; pair++) {
        for (const which of pair % 2 === 0 ? (['dps', 'peer'] as const) : (['peer', 'dps'] as const)) {
          const dir = await scratch('cdn');
          try {
            if (which === 'dps') {
              await fake.stats({ reset: true });
              const r = await runDps(fake, channelArgs(fake, dir));
              if (r.code !== 0 || r.summary?.bytes !== total) throw new Error(`dps exited ${r.code}, ${r.summary?.bytes} of ${total} bytes: ${r.stderr}`);
              ours.push(total / 1e6 / (r.summary.elapsed_ms / 1000));
              oursWall.push(total / 1e6 / (r.wallMs / 1000));
              inFlight.push((await fake.stats()).stats.cdnMaxConcurrent);
            } else {
              const r = await runPeer(peer, fake, dir.out, PEER_CONCURRENCY);
              if (r.bytes !== total) throw new Error(`peer wrote ${r.bytes} of ${total} bytes`);
              theirs.push(r.mbPerSecond);
              theirsWall.push(total / 1e6 / (r.wallMs / 1000));
            }
          } finally {
            dir.cleanup();
          }
        }
        log(
          `cdn pair ${pair + 1}: dps ${ours.at(-1)!.toFixed(1)} MB/s (at most ${inFlight.at(-1)} downloads in flight), peer ${theirs.at(-1)!.toFixed(1)} MB/s, ratio ${(ours.at(-1)! / theirs.at(-1)!).toFixed(3)}`,
        );
      }
    } finally {
      await fake.close();
    }
  }
  const ratios = ours.map((v, i) => v / theirs[i]!);
  const wallRatios = oursWall.map((v, i) => v / theirsWall[i]!);
  const ratio = median(ratios);

  // 2. A CDN that answers 429 beyond 16 downloads in flight: dps at the defaults, files checked.
  const limited = await startFake({
    scenario: { kind: 'downloads', images },
    options: { rateLimit: { off: true }, cdnLatencyMs: LATENCY_MS, cdnConcurrencyLimit: CDN_LIMIT },
  });
  const shares: number[] = [];
  const counts: string[] = [];
  const lost: number[] = [];
  const failed: number[] = [];
  const codes: number[] = [];
  const limitedMBs: number[] = [];
  const limitedInFlight: number[] = [];
  try {
    const expected = await limited.expected();
    for (let run = 0; run < limitedRuns; run++) {
      const dir = await scratch('cdn');
      try {
        await limited.stats({ reset: true });
        const r = await runDps(limited, channelArgs(limited, dir));
        const s = await limited.stats();
        const requests = Object.values(s.cdn).reduce((a, b) => a + b, 0);
        const answered429 = s.cdn['429'] ?? 0;
        const check = await verifyFolder(dir.out, expected);
        shares.push(answered429 / requests);
        counts.push(`${answered429}/${requests}`);
        lost.push(check.lost);
        failed.push(r.summary?.failed ?? Number.NaN);
        codes.push(r.code ?? Number.NaN);
        limitedInFlight.push(s.stats.cdnMaxConcurrent);
        if (r.summary) limitedMBs.push(r.summary.bytes / 1e6 / (r.summary.elapsed_ms / 1000));
        log(
          `cdn limited run ${run + 1}: exit ${r.code}, ${answered429} of ${requests} CDN requests answered 429, ${check.present} of ${check.expected} files intact, ` +
            `failed ${r.summary?.failed}, at most ${s.stats.cdnMaxConcurrent} in flight`,
        );
      } finally {
        dir.cleanup();
      }
    }
  } finally {
    await limited.close();
  }
  const share = median(shares);
  const allThere = lost.every((n) => n === 0) && failed.every((n) => n === 0) && codes.every((c) => c === 0);
  // A fake without cdnConcurrencyLimit serves everything: then nothing here was tested.
  const enforced = shares.some((v) => v > 0) || limitedInFlight.every((n) => n <= CDN_LIMIT);

  const rows: Row[] = [];
  if (peer) {
    rows.push(
      { figure: "dps MB/s (bytes / the run's elapsed_ms)", value: median(ours).toFixed(1), runs: fmt(ours, 1) },
      { figure: `peer MB/s (its own clock: login excluded; ${PEER_CONCURRENCY} downloads at once)`, value: median(theirs).toFixed(1), runs: fmt(theirs, 1) },
      { figure: 'ratio dps / peer (median of per-pair ratios)', value: ratio.toFixed(3), runs: fmt(ratios, 3) },
      {
        figure: 'ratio dps / peer, both by wall clock (process start, imports and login included)',
        value: median(wallRatios).toFixed(3),
        runs: fmt(wallRatios, 3),
      },
      { figure: "most CDN downloads in flight during a dps run (the fake's count)", value: String(median(inFlight)), runs: inFlight.join(', ') },
    );
  }
  rows.push(
    { figure: `CDN limited to ${CDN_LIMIT} in flight: CDN requests answered 429 (share)`, value: `${(share * 100).toFixed(2)}%`, runs: counts.join(', ') },
    {
      figure: `CDN limited to ${CDN_LIMIT}: expected files missing or wrong (size, sha256) / failed in the summary / exit code`,
      value: allThere ? '0 / 0 / 0' : 'see runs',
      runs: lost.map((n, i) => `${n} / ${failed[i]} / ${codes[i]}`).join(', '),
    },
    { figure: `CDN limited to ${CDN_LIMIT}: dps MB/s`, value: median(limitedMBs).toFixed(1), runs: fmt(limitedMBs, 1) },
    {
      figure: `CDN limited to ${CDN_LIMIT}: most CDN requests in flight (429s included)`,
      value: String(median(limitedInFlight)),
      runs: limitedInFlight.join(', '),
    },
  );
  const notes: string[] = [];
  if (!peer) notes.push('No peer: /usr/bin/python3 imports neither discord.py nor aiohttp (apt-get install python3-discord python3-aiohttp).');
  if (!enforced)
    notes.push(
      `The fake did not enforce cdnConcurrencyLimit (no 429, more than ${CDN_LIMIT} in flight): this fake predates the option, so the 429 target is not measured.`,
    );
  return {
    name: 'cdn',
    title: 'CDN latency',
    command: `dps --server-id G --channel-id C (defaults: no concurrency flag) vs /usr/bin/python3 ${peer?.script ?? 'bench/peers/discordpy_peer.py'} (${peer?.what ?? 'not importable'}, ${PEER_CONCURRENCY} downloads at once)`,
    setup:
      `${images.toLocaleString('en')} images (the downloads scenario's size mix: ${(total / 1e9).toFixed(2)} GB), one channel, API limits off; CDN: ${LATENCY_MS} ms before each response's headers (first byte). ` +
      `${pairs} interleaved pairs (dps first, then the peer first, ...), one fake. Then ${limitedRuns} dps run(s) on a fake whose CDN answers 429 with Retry-After beyond ${CDN_LIMIT} requests in flight (cdnConcurrencyLimit), the same latency; every expected file checked by size and sha256.`,
    rows,
    targets: [
      {
        target: `downloads >= 1.5 x the seed plan's design (discord.py + aiohttp at ${PEER_CONCURRENCY}), CDN with ${LATENCY_MS} ms to first byte`,
        measured: peer ? `${round(ratio, 3)}` : 'no peer',
        met: peer ? ratio >= 1.5 : undefined,
      },
      {
        target: `<= 1% of downloads answered 429 by a CDN limited to ${CDN_LIMIT} in flight`,
        measured: enforced ? `${(share * 100).toFixed(2)}%` : 'limit not enforced by the fake',
        met: enforced ? share <= 0.01 : undefined,
      },
      {
        target: `no file lost behind a CDN limited to ${CDN_LIMIT} (all present, right size and sha256; failed = 0)`,
        measured: allThere ? 'none lost' : `lost ${lost.join(', ')}; failed ${failed.join(', ')}`,
        met: allThere,
      },
    ],
    notes,
    measuredAt: new Date().toISOString(),
    quick: ctx.quick,
    runs: pairs,
  };
}
