// peers: the plan's design (discord.py + aiohttp, bench/python-peer.ts), on the downloads scenario, vs the raw
// baseline (both at 8 downloads at once) and dps at its defaults, measured in the same run.

import { statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { log, median, runDps, runScript, scratch, startFake, channelArgs } from '../common.js';
import type { BenchContext, ScenarioResult } from '../common.js';
import { findPeer, runPeer } from '../python-peer.js';
import { mixedSize } from '../sizes.js';

export async function peers(ctx: BenchContext): Promise<ScenarioResult> {
  const base = { name: 'peers', title: 'Peers', measuredAt: new Date().toISOString(), quick: ctx.quick, runs: ctx.runs };
  const peerFound = await findPeer();
  if (!peerFound) {
    return {
      ...base,
      command: 'bench/peers/discordpy_peer.py',
      setup: 'neither discord.py nor aiohttp importable by /usr/bin/python3',
      rows: [],
      targets: [],
      notes: ["Skipped: install Debian's python3-discord and python3-aiohttp (apt-get install python3-discord python3-aiohttp) to run the peer."],
    };
  }
  const images = ctx.quick ? 500 : 5_000;
  let total = 0;
  for (let i = 0; i < images; i++) total += mixedSize(i);
  const fs = statfsSync(tmpdir());
  // Every run's files stay at least until the scenario ends (common.ts, removeScratch): three tools per run.
  if (fs.bavail * fs.bsize < total * (3 * ctx.runs + 0.5)) throw new Error('peers: not enough free disk space');
  const fake = await startFake({ scenario: { kind: 'downloads', images }, options: { rateLimit: { off: true } } });
  const concurrency = 8;
  const peer: number[] = [];
  const raw: number[] = [];
  const ours: number[] = [];
  try {
    for (let run = 0; run < ctx.runs; run++) {
      for (const which of ['raw', 'peer', 'dps'] as const) {
        const dir = await scratch('peers');
        try {
          if (which === 'raw') {
            const { result } = await runScript('baseline-raw.js', ['downloads', fake.api, fake.token, fake.channel_ids[0]!, dir.out, String(concurrency)]);
            raw.push(result.mbPerSecond as number);
          } else if (which === 'peer') {
            const result = await runPeer(peerFound, fake, dir.out, concurrency);
            if (result.bytes !== total) throw new Error(`peer wrote ${result.bytes} of ${total} bytes`);
            peer.push(result.mbPerSecond);
          } else {
            const r = await runDps(fake, channelArgs(fake, dir));
            if (r.code !== 0 || r.summary?.bytes !== total) throw new Error(`dps exited ${r.code}, ${r.summary?.bytes} of ${total} bytes: ${r.stderr}`);
            ours.push(r.summary.bytes / 1e6 / (r.summary.elapsed_ms / 1000));
          }
        } finally {
          dir.cleanup();
        }
      }
      log(`peers run ${run + 1}: peer ${peer.at(-1)!.toFixed(0)} MB/s, raw ${raw.at(-1)!.toFixed(0)} MB/s, dps ${ours.at(-1)!.toFixed(0)} MB/s`);
    }
  } finally {
    await fake.close();
  }
  const fmt = (values: number[]): string => values.map((v) => v.toFixed(0)).join(', ');
  return {
    ...base,
    command: `/usr/bin/python3 ${peerFound.script} (${peerFound.what} from Debian: history(oldest_first=True) + aiohttp, ${concurrency} downloads at once) vs dps --server-id G --channel-id C (defaults)`,
    setup: `the downloads scenario: ${images} images, ${(total / 1e9).toFixed(2)} GB; the peer pointed at the fake's API (discord.py's Route.BASE)`,
    rows: [
      { figure: 'peer MB/s (login excluded)', value: median(peer).toFixed(0), runs: fmt(peer) },
      { figure: 'raw baseline MB/s', value: median(raw).toFixed(0), runs: fmt(raw) },
      { figure: 'dps MB/s', value: median(ours).toFixed(0), runs: fmt(ours) },
      { figure: 'ratio peer / baseline', value: (median(peer) / median(raw)).toFixed(3) },
      { figure: 'ratio dps / peer', value: (median(ours) / median(peer)).toFixed(3) },
    ],
    targets: [],
    notes: ['The peer writes without hashing or fsync, like the baseline; dps hashes (sha256), fsyncs and renames every file.'],
  };
}
