// `node dist/bench/ab.js <checkoutA> <checkoutB> [--pairs N] [--images N | --pages N]`: the downloads scenario's dps
// run (bench/scenarios/downloads.ts: one fake, rate limits off, each build at its defaults) with two builds of dps in turn,
// A B, B A, A B, ... (each checkout built: its bin/dps.js and dist/), against one fake, each run in a fresh
// scratch folder after a `sync`. Prints one JSON line per run (MB/s from the run's elapsed_ms, CPU seconds of
// dps and of the fake meanwhile) and per build the median and range. This is how two ways of doing the same
// work are compared on this VM, whose speed drifts within minutes (bench/limits.md). With `--pages N`, the pages
// scenario's run instead (bench/scenarios/pages.ts: a channel of N messages, 1% with small images, no limit at all,
// so the client is told --global-rate-limit 100000 as that scenario does), in messages/s. A side may carry dps
// flags after a `|`: `ab.js '.|--write-metadata' .` compares one build with and without a flag.

import { join, resolve } from 'node:path';
import { median, removeScratch, runProcess, scratch, settleDisk, startFake } from './common.js';
import { mixedSize, UNLIMITED } from './sizes.js';

const argv = process.argv.slice(2);
const flag = (name: string, fallback: number): number => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};
const sides = argv.filter((arg, i) => !arg.startsWith('--') && !argv[i - 1]?.startsWith('--'));
const builds = sides.map((side) => resolve(side.split('|')[0]!));
const extra = sides.map((side) => side.split('|').slice(1).join('|').split(' ').filter(Boolean));
if (builds.length !== 2) throw new Error('usage: node dist/bench/ab.js <checkoutA> <checkoutB> [--pairs N] [--images N | --pages N]');
const pairs = flag('pairs', 5);
const images = flag('images', 5_000);
const pages = flag('pages', 0); // the pages scenario's messages; 0: the downloads scenario
// For profiles: DPS_AB_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") goes to each dps run, with the
// side's letter appended to a --cpu-prof-dir.
const nodeArgs = (side: string): string[] =>
  (process.env.DPS_AB_NODE_ARGS ?? '')
    .split(' ')
    .filter((a) => a !== '')
    .map((a) => (a.startsWith('--cpu-prof-dir=') ? `${a}/${side}` : a));

let total = 0;
if (pages === 0) for (let i = 0; i < images; i++) total += mixedSize(i);
const fake = await startFake(
  pages > 0
    ? { scenario: { kind: 'channel', messages: pages, imageRatio: 0.01 }, options: { rateLimit: UNLIMITED } }
    : { scenario: { kind: 'downloads', images }, options: { rateLimit: { off: true } } },
);
const runs = builds.map(() => ({ mbs: [] as number[], cpu: [] as number[] }));
try {
  await settleDisk();
  for (let pair = 0; pair < pairs; pair++) {
    const order = pair % 2 === 0 ? [0, 1] : [1, 0];
    for (const which of order) {
      removeScratch({ unlessFreeAbove: total * 3 }); // files kept until room runs short, then emptied (common.ts)
      const dir = await scratch('downloads');
      const fakeBefore = fake.cpuSeconds();
      const args = [
        ...nodeArgs('AB'[which]!),
        join(builds[which]!, 'bin', 'dps.js'),
        '--server-id',
        fake.guild_id,
        '--channel-id',
        fake.channel_ids[0]!,
        '--out',
        dir.out,
        '--state',
        dir.state,
        '--quiet',
        ...(pages > 0 ? ['--global-rate-limit', '100000'] : []),
        ...extra[which]!,
      ];
      const r = await runProcess(process.execPath, args, { env: { DISCORD_TOKEN: fake.token, DISCORD_API_URL: fake.api }, cwd: builds[which]! });
      dir.cleanup();
      const summary = r.summary;
      const complete = pages > 0 ? summary?.messages === pages : summary?.bytes === total;
      if (r.code !== 0 || summary === undefined || !complete)
        throw new Error(`${builds[which]}: exit ${r.code}, ${r.summary?.messages} messages, ${r.summary?.bytes} bytes: ${r.stderr}`);
      // MB/s, or with --pages messages/s
      const mbs = (pages > 0 ? summary.messages : summary.bytes / 1e6) / (summary.elapsed_ms / 1000);
      runs[which]!.mbs.push(mbs);
      runs[which]!.cpu.push(r.cpuSeconds);
      const line = {
        pair: pair + 1,
        build: 'AB'[which],
        at: new Date().toISOString(),
        mbs: Number(mbs.toFixed(1)),
        cpu: r.cpuSeconds,
        fakeCpu: Number((fake.cpuSeconds() - fakeBefore).toFixed(2)),
      };
      process.stdout.write(`${JSON.stringify(line)}\n`);
    }
  }
} finally {
  await fake.close();
  removeScratch();
}
for (const [i, { mbs, cpu }] of runs.entries()) {
  const summary = {
    build: 'AB'[i],
    dir: sides[i],
    mbs: { median: median(mbs), min: Math.min(...mbs), max: Math.max(...mbs) },
    cpu: { median: median(cpu), min: Math.min(...cpu), max: Math.max(...cpu) },
  };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}
