// `node dist/bench/s3-metadata-ab.js [A B] [--pairs N] [--images N] [--messages N]`: what `--write-metadata=channel`
// costs with `--out s3://` (issue 26: the lines kept in the state, one awaited state write per message with files,
// the log object rewritten at the channel's end). dps of this checkout archives the same channel into a fresh
// bucket of a real Ceph RGW (fixtures/s3-ceph.ts) without and with the flag, in interleaved pairs (order
// alternating); prints one JSON line per run (MB/s and messages/s from the summary, CPU seconds) and the median
// ratio with its spread. `--images N`: the downloads scenario (N images of mixed sizes, MB/s); `--messages N`: a
// channel of N messages, 30% with one small image (messages/s: the per-message state write shows here).

import { join, resolve } from 'node:path';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { cephAccess } from './ceph-access.js';
import { startCeph } from '../fixtures/s3-ceph.js';
import { CLI, median, runProcess, scratch, startFake } from './common.js';

const argv = process.argv.slice(2);
const flag = (name: string, fallback: number): number => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};
const pairs = flag('pairs', 5);
// For profiles: DPS_AB_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") goes to each dps run, with the
// variant's name appended to a --cpu-prof-dir.
const nodeArgs = (variant: string): string[] =>
  (process.env.DPS_AB_NODE_ARGS ?? '')
    .split(' ')
    .filter((a) => a !== '')
    .map((a) => (a.startsWith('--cpu-prof-dir=') ? `${a}/${variant}` : a));
const messages = flag('messages', 0);
const images = flag('images', messages > 0 ? 0 : 1_500);

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const home = await scratch('s3-metadata-ab');
const ceph = await startCeph({ dir: join(home.dir, 'ceph'), blockBytes: 30e9 });
const { client, env } = cephAccess(ceph);
const fake = await startFake(
  messages > 0
    ? { scenario: { kind: 'channel', messages, imageRatio: 0.3, sizes: [2_000, 8_000] }, options: { rateLimit: { off: true } } }
    : { scenario: { kind: 'downloads', images }, options: { rateLimit: { off: true } } },
);
// Two builds instead (`node dist/bench/s3-metadata-ab.js /tmp/before . --pairs 5`): each side a checkout
// (its bin/dps.js), optionally with flags after a `|` as in bench/ab.ts (`'.|--write-metadata'`).
const sides = argv.filter((arg, i) => !arg.startsWith('--') && !argv[i - 1]?.startsWith('--'));
if (sides.length !== 0 && sides.length !== 2) throw new Error('give two sides (checkouts, each optionally |flags), or none');
const variants =
  sides.length === 2
    ? sides.map((side, i) => ({
        name: `side-${'ab'[i]}`, // its bucket's and profile folder's name; `side` says which it is
        side,
        cli: resolve(side.split('|')[0]!, 'bin', 'dps.js'),
        extra: side.split('|').slice(1).join('|').split(' ').filter(Boolean),
        rates: [] as number[],
        cpu: [] as number[],
      }))
    : [
        { name: 'plain', cli: CLI, extra: [] as string[], rates: [] as number[], cpu: [] as number[] },
        { name: 'channel-log', cli: CLI, extra: ['--write-metadata=channel'], rates: [] as number[], cpu: [] as number[] },
      ];
let buckets = 0;
try {
  for (let pair = 0; pair < pairs; pair++) {
    const order = pair % 2 === 0 ? [0, 1] : [1, 0];
    for (const which of order) {
      const variant = variants[which]!;
      const bucket = `ab-${++buckets}-${variant.name}`;
      if ('side' in variant && pair === 0) process.stdout.write(`${JSON.stringify({ variant: variant.name, side: variant.side })}\n`);
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
      const dir = await scratch('s3-metadata-ab-state');
      const args = [
        ...nodeArgs(variant.name),
        variant.cli,
        'scrape',
        '--server-id',
        fake.guild_id,
        '--channel-id',
        fake.channel_ids[0]!,
        '--out',
        `s3://${bucket}/x`,
      ];
      args.push('--state', dir.state, '--s3-force-path-style', '--quiet', ...variant.extra);
      const r = await runProcess(process.execPath, args, { env: { DISCORD_TOKEN: fake.token, DISCORD_API_URL: fake.api, ...env } });
      dir.cleanup();
      const summary = r.summary;
      if (r.code !== 0 || summary === undefined) throw new Error(`${variant.name}: exit ${r.code}: ${r.stderr}`);
      const rate = (messages > 0 ? summary.messages : summary.bytes / 1e6) / (summary.elapsed_ms / 1000);
      variant.rates.push(rate);
      variant.cpu.push(r.cpuSeconds);
      const line = { pair: pair + 1, variant: variant.name, at: new Date().toISOString(), rate: Number(rate.toFixed(1)), cpu: r.cpuSeconds };
      process.stdout.write(`${JSON.stringify(line)}\n`);
    }
  }
} finally {
  await fake.close();
  client.destroy();
  await ceph.stop();
  home.cleanup();
}
const ratios = variants[1]!.rates.map((rate, i) => rate / variants[0]!.rates[i]!);
const unit = messages > 0 ? 'messages/s' : 'MB/s';
for (const { name, rates, cpu } of variants) process.stdout.write(`${JSON.stringify({ variant: name, unit, median: median(rates), cpu: median(cpu) })}\n`);
process.stdout.write(
  `${JSON.stringify({ ratio: `${variants[1]!.name} / ${variants[0]!.name}`, unit, median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) })}\n`,
);
