// s3 (issue 26): archiving straight to object storage. A real S3 server (single-node Ceph RGW from Debian,
// fixtures/s3-ceph.ts) on loopback; the fake Discord and its CDN in their own process.
//  1. Throughput: `dps scrape ... --out s3://<bucket>/x` at the defaults vs bench/s3-baseline.ts, a bare loop
//     streaming the same files from the fake CDN into lib-storage's Upload, 8 at once (dps's downloads start at 8),
//     in interleaved pairs (order alternating); each run into a fresh bucket, checked by listing it (every byte
//     arrived). Target: dps >= 0.85 of the loop's MB/s.
//  2. Memory: dps's peak RSS (VmHWM) archiving 8 files of 200 MB at once to S3 (target <= 250 MB); the loop's too,
//     for reference.
// dps's half runs once `dps scrape --help` lists --s3-endpoint; until then the loop's figures stand alone.

import { statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CreateBucketCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { startCeph } from '../../fixtures/s3-ceph.js';
import { cephAccess } from '../ceph-access.js';
import type { CephS3 } from '../../fixtures/s3-ceph.js';
import { CLI, channelArgs, DIST_BENCH, dpsHasFlag, log, median, PAIRS, pairRow, round, runProcess, scratch, startFake } from '../common.js';
import type { BenchContext, FakeHandle, ProcessRun, Row, ScenarioResult } from '../common.js';
import { mixedSize } from '../sizes.js';

const LOOP_CONCURRENCY = 8; // dps's default download concurrency: 'auto' starts at 8
const BIG = 200_000_000;
const RSS_TARGET_MB = 250;

// Every object under `prefix`: how many and their bytes.
async function listed(client: S3Client, bucket: string, prefix: string): Promise<{ objects: number; bytes: number }> {
  let objects = 0;
  let bytes = 0;
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}/`, ContinuationToken: token }));
    for (const o of page.Contents ?? []) {
      objects++;
      bytes += o.Size ?? 0;
    }
    token = page.NextContinuationToken;
  } while (token !== undefined);
  return { objects, bytes };
}

export async function s3(ctx: BenchContext): Promise<ScenarioResult> {
  const images = ctx.quick ? 300 : 1_500;
  if (ctx.only !== undefined && ctx.only !== 'big') throw new Error(`s3: --only takes big (the big-file phase alone), not ${ctx.only}`);
  const bigOnly = ctx.only === 'big'; // --only big: phase 2 alone, ctx.runs runs
  const pairs = bigOnly ? 0 : ctx.quick ? Math.min(2, ctx.runs) : Math.max(ctx.runs, PAIRS);
  const bigRuns = bigOnly ? ctx.runs : ctx.quick ? 1 : Math.min(3, ctx.runs);
  const withDps = dpsHasFlag('--s3-endpoint');
  let total = 0;
  for (let i = 0; i < images; i++) total += mixedSize(i);
  // Objects stay in the cluster until it stops (each run has its own bucket), on its sparse block file.
  const stored = total * 2 * pairs + BIG * 9 * bigRuns * 2;
  const fs = statfsSync(tmpdir());
  if (fs.bavail * fs.bsize < stored * 1.3 + 5e9) throw new Error(`s3: needs ${((stored * 1.3 + 5e9) / 1e9).toFixed(0)} GB free in ${tmpdir()}`);
  const home = await scratch('s3');
  let ceph: CephS3 | undefined;
  let client: S3Client | undefined;
  const fakes: FakeHandle[] = [];
  try {
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'; // the SDK's notice about Node 20's end
    ceph = await startCeph({ dir: join(home.dir, 'ceph'), blockBytes: Math.ceil((stored * 1.5) / 1e9) * 1e9 + 20e9 });
    const server = ceph;
    const { client: s3client, env } = cephAccess(server);
    client = s3client;
    let buckets = 0;
    const bucket = async (what: string): Promise<string> => {
      const name = `bench-${++buckets}-${what}`;
      await s3client.send(new CreateBucketCommand({ Bucket: name }));
      return name;
    };
    // dps at the defaults, into s3://<bucket>/x, the token and the S3 settings from the environment (as a user would).
    const dps = async (fake: FakeHandle, into: string): Promise<ProcessRun> => {
      const dir = await scratch('s3-state');
      try {
        const args = ['scrape', ...channelArgs(fake, dir).slice(0, 4), '--out', `s3://${into}/x`, '--state', dir.state, '--s3-force-path-style', '--quiet'];
        return await runProcess(process.execPath, [CLI, ...args], { env: { DISCORD_TOKEN: fake.token, DISCORD_API_URL: fake.api, ...env } });
      } finally {
        dir.cleanup();
      }
    };
    // The loop as its own process (common.ts's runScript, with the S3 environment); its last stdout line is JSON.
    const loop = async (fake: FakeHandle, into: string): Promise<{ run: ProcessRun; result: Record<string, number> }> => {
      let last = '';
      const script = join(DIST_BENCH, 's3-baseline.js');
      const run = await runProcess(process.execPath, [script, fake.api, fake.token, fake.channel_ids[0]!, into, 'x', String(LOOP_CONCURRENCY)], {
        env,
        onSpawn: (child) => createInterface({ input: child.stdout! }).on('line', (line) => (last = line)),
      });
      if (run.code !== 0) throw new Error(`s3-baseline.js exited with ${run.code}: ${run.stderr}`);
      return { run, result: JSON.parse(last) as Record<string, number> };
    };

    // 1. throughput, interleaved pairs
    const fake = bigOnly ? undefined : await startFake({ scenario: { kind: 'downloads', images }, options: { rateLimit: { off: true } } });
    if (fake !== undefined) fakes.push(fake);
    const mbs = { dps: [] as number[], loop: [] as number[] };
    const cpu = { dps: [] as number[], loop: [] as number[] };
    const rss = { dps: [] as number[], loop: [] as number[] };
    for (let pair = 0; fake !== undefined && pair < pairs; pair++) {
      const order = pair % 2 === 0 ? (['dps', 'loop'] as const) : (['loop', 'dps'] as const);
      for (const which of order) {
        if (which === 'dps' && !withDps) continue;
        const into = await bucket(which);
        if (which === 'dps') {
          const r = await dps(fake, into);
          if (r.code !== 0 || r.summary?.bytes !== total) throw new Error(`dps exited ${r.code}, ${r.summary?.bytes} of ${total} bytes: ${r.stderr}`);
          mbs.dps.push(total / 1e6 / (r.summary.elapsed_ms / 1000));
          cpu.dps.push(r.cpuSeconds);
          rss.dps.push(r.peakRssMB);
        } else {
          const { run, result } = await loop(fake, into);
          if (result.bytes !== total) throw new Error(`the loop uploaded ${result.bytes} of ${total} bytes`);
          mbs.loop.push(result.mbPerSecond!);
          cpu.loop.push(run.cpuSeconds);
          rss.loop.push(run.peakRssMB);
        }
        const seen = await listed(s3client, into, 'x');
        if (seen.objects !== images || seen.bytes !== total)
          throw new Error(`${which}: the bucket holds ${seen.objects} objects, ${seen.bytes} bytes; expected ${images}, ${total}`);
      }
      log(
        `s3 pair ${pair + 1}: loop ${mbs.loop.at(-1)!.toFixed(0)} MB/s` +
          (withDps ? `, dps ${mbs.dps.at(-1)!.toFixed(0)} MB/s (ratio ${(mbs.dps.at(-1)! / mbs.loop.at(-1)!).toFixed(3)})` : ' (dps has no S3 output yet)'),
      );
    }

    // 2. peak RSS with 8 files of 200 MB at once
    // seed 2: these 8 messages carry exactly 8 images (some messages of the fake's channels carry two or three)
    const bigFake = await startFake({
      scenario: { kind: 'channel', messages: 8, imageRatio: 1, sizes: [BIG, BIG], seed: 2 },
      options: { rateLimit: { off: true } },
    });
    fakes.push(bigFake);
    const bigFiles = (await bigFake.expected()).length;
    if (bigFiles !== 8) throw new Error(`s3: the big-file channel serves ${bigFiles} files, not 8`);
    const bigRss = { dps: [] as number[], loop: [] as number[] };
    const bigMbs = { dps: [] as number[], loop: [] as number[] };
    for (let run = 0; run < bigRuns; run++) {
      for (const which of ['dps', 'loop'] as const) {
        if (which === 'dps' && !withDps) continue;
        const into = await bucket(`big-${which}`);
        const looped = which === 'loop' ? await loop(bigFake, into) : undefined;
        const r = looped?.run ?? (await dps(bigFake, into));
        if (r.code !== 0) throw new Error(`${which} exited ${r.code}: ${r.stderr}`);
        const seen = await listed(s3client, into, 'x');
        if (seen.objects !== bigFiles || seen.bytes !== bigFiles * BIG) throw new Error(`${which}: the bucket holds ${seen.objects} of ${bigFiles} big files`);
        bigRss[which].push(r.peakRssMB);
        // MB/s as in phase 1: dps's summary, the loop's upload phase
        const rate = looped?.result.mbPerSecond ?? (bigFiles * BIG) / 1e6 / ((r.summary?.elapsed_ms ?? r.wallMs) / 1000);
        bigMbs[which].push(rate);
        log(`s3 big files run ${run + 1}: ${which} peak RSS ${r.peakRssMB.toFixed(0)} MB, ${rate.toFixed(0)} MB/s, ${r.cpuSeconds.toFixed(1)} CPU s`);
      }
    }

    const ratios = mbs.dps.map((v, i) => v / mbs.loop[i]!);
    const ratio = median(ratios);
    const row = (figure: string, values: number[], digits = 0): Row =>
      values.length > 0
        ? { figure, value: median(values).toFixed(digits), runs: values.map((v) => v.toFixed(digits)).join(', ') }
        : { figure, value: 'not measured' };
    const peak = bigRss.dps.length > 0 ? Math.max(...bigRss.dps) : undefined;
    return {
      name: 's3',
      title: 'S3 output (issue 26)',
      command:
        `dps scrape --server-id G --channel-id C --out s3://<bucket>/x --s3-force-path-style (defaults; endpoint and credentials in the environment) ` +
        `vs s3-baseline.js (undici from the fake CDN into lib-storage's Upload at its default part size and queue, ${LOOP_CONCURRENCY} at once), interleaved pairs, a fresh bucket per run`,
      setup:
        `Ceph RGW 16 (one mon, one bluestore osd on a sparse file, one rgw; Debian packages) on loopback; ${images} images of mixed sizes ` +
        `(${(total / 1e9).toFixed(2)} GB); then ${bigFiles} files of ${BIG / 1e6} MB; fake in its own process, rate limits off`,
      rows: [
        row('dps MB/s (bytes / elapsed_ms of its summary)', mbs.dps),
        row('loop MB/s (upload phase only)', mbs.loop),
        ...(ratios.length > 0 ? [pairRow('ratio dps / loop, MB/s', ratios)] : []),
        row('CPU seconds of dps per run (user + system)', cpu.dps, 1),
        row('CPU seconds of the loop per run (user + system)', cpu.loop, 1),
        row('peak RSS of dps, mixed files (MB)', rss.dps),
        row('peak RSS of the loop, mixed files (MB)', rss.loop),
        row(`peak RSS of dps, ${bigFiles} files of ${BIG / 1e6} MB (MB)`, bigRss.dps),
        row(`peak RSS of the loop, ${bigFiles} files of ${BIG / 1e6} MB (MB; ${LOOP_CONCURRENCY} Uploads of up to 4 parts of 5 MB in memory)`, bigRss.loop),
        row(`dps MB/s, ${bigFiles} files of ${BIG / 1e6} MB`, bigMbs.dps),
        row(`loop MB/s, ${bigFiles} files of ${BIG / 1e6} MB (upload phase only)`, bigMbs.loop),
      ],
      targets: [
        {
          target: "s3: dps >= 0.85 x the bare loop's MB/s (interleaved pairs)",
          measured: bigOnly ? 'not measured (--only big)' : withDps ? `${round(ratio, 3)}` : 'not measured (dps has no S3 output yet)',
          met: withDps && !bigOnly ? ratio >= 0.85 : undefined,
        },
        {
          target: `s3: dps's peak RSS <= ${RSS_TARGET_MB} MB with 8 files of 200 MB at once`,
          measured: peak !== undefined ? `${peak.toFixed(0)} MB (the most of ${bigRss.dps.length} runs)` : 'not measured (dps has no S3 output yet)',
          met: peak !== undefined ? peak <= RSS_TARGET_MB : undefined,
        },
      ],
      measuredAt: new Date().toISOString(),
      quick: ctx.quick,
      runs: pairs,
    };
  } finally {
    for (const fake of fakes) await fake.close();
    client?.destroy();
    await ceph?.stop();
    home.cleanup();
  }
}
