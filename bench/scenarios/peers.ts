// peers: discord.py (Debian's python3-discord) following the plan's design, on the downloads scenario, vs the raw
// baseline and dps measured in the same run.

import { existsSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, log, median, runDps, runProcess, runScript, scratch, startFake, channelArgs } from '../common.js';
import type { BenchContext, ScenarioResult } from '../common.js';
import { mixedSize } from '../sizes.js';

const PYTHON = '/usr/bin/python3';

export async function peers(ctx: BenchContext): Promise<ScenarioResult> {
  const base = { name: 'peers', title: 'Peers', measuredAt: new Date().toISOString(), quick: ctx.quick, runs: ctx.runs };
  const probe = existsSync(PYTHON) ? await runProcess(PYTHON, ['-c', 'import discord, aiohttp; print(discord.__version__)']) : undefined;
  if (probe?.code !== 0) {
    return {
      ...base,
      command: 'bench/peers/discordpy_peer.py',
      setup: 'discord.py not importable by /usr/bin/python3',
      rows: [],
      targets: [],
      notes: ["Skipped: install Debian's python3-discord (apt-get install python3-discord) to run the discord.py peer."],
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
  let out = '';
  try {
    for (let run = 0; run < ctx.runs; run++) {
      for (const which of ['raw', 'peer', 'dps'] as const) {
        const dir = await scratch('peers');
        try {
          if (which === 'raw') {
            const { result } = await runScript('baseline-raw.js', ['downloads', fake.api, fake.token, fake.channel_ids[0]!, dir.out, String(concurrency)]);
            raw.push(result.mbPerSecond as number);
          } else if (which === 'peer') {
            const r = await runProcess(
              PYTHON,
              [join(ROOT, 'bench', 'peers', 'discordpy_peer.py'), fake.api, fake.token, fake.channel_ids[0]!, dir.out, String(concurrency)],
              {
                onSpawn: (child) => child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString())),
              },
            );
            if (r.code !== 0) throw new Error(`discord.py peer exited ${r.code}: ${r.stderr}`);
            const result = JSON.parse(out.trim().split('\n').at(-1)!) as { bytes: number; mbPerSecond: number };
            out = '';
            if (result.bytes !== total) throw new Error(`peer wrote ${result.bytes} of ${total} bytes`);
            peer.push(result.mbPerSecond);
          } else {
            const r = await runDps(fake, [...channelArgs(fake, dir), '--concurrency', String(concurrency)]);
            if (r.code !== 0) throw new Error(`dps exited ${r.code}`);
            ours.push(r.summary!.bytes / 1e6 / (r.summary!.elapsed_ms / 1000));
          }
        } finally {
          dir.cleanup();
        }
      }
      log(`peers run ${run + 1}: discord.py ${peer.at(-1)!.toFixed(0)} MB/s, raw ${raw.at(-1)!.toFixed(0)} MB/s, dps ${ours.at(-1)!.toFixed(0)} MB/s`);
    }
  } finally {
    await fake.close();
  }
  const fmt = (values: number[]): string => values.map((v) => v.toFixed(0)).join(', ');
  return {
    ...base,
    command: `/usr/bin/python3 bench/peers/discordpy_peer.py (discord.py ${probe.summary ? '' : '2.2.2'} from Debian: history(oldest_first=True) + aiohttp, ${concurrency} downloads at once)`,
    setup: `the downloads scenario: ${images} images, ${(total / 1e9).toFixed(2)} GB; discord.py's Route.BASE pointed at the fake`,
    rows: [
      { figure: 'discord.py peer MB/s (login excluded)', value: median(peer).toFixed(0), runs: fmt(peer) },
      { figure: 'raw baseline MB/s', value: median(raw).toFixed(0), runs: fmt(raw) },
      { figure: 'dps MB/s', value: median(ours).toFixed(0), runs: fmt(ours) },
      { figure: 'ratio peer / baseline', value: (median(peer) / median(raw)).toFixed(3) },
      { figure: 'ratio dps / peer', value: (median(ours) / median(peer)).toFixed(3) },
    ],
    targets: [],
    notes: ['The peer writes without hashing or fsync, like the baseline; dps hashes (sha256), fsyncs and renames every file.'],
  };
}
