// `node dist/bench/cli-startup.js <before/bin/dps.js> <after/bin/dps.js> <state> <out> [rounds]`: what a command
// costs before it does anything (issue 25: every command loaded every other command's packages). Two builds of
// dps (e.g. a copy of the base commit's bin/dps.js + dist/ beside node_modules, and this one) run `--version`,
// `scrape --help` and `gallery` on an archive whose gallery is up to date, `rounds` times each [15], the two
// builds one after the other with their order alternating per round (interleaved pairs: drift on a shared
// machine falls on both). Prints, per command, the median wall and CPU (user + system) ms of each build and the
// median of the per-round wall ratios after / before with their spread.

import { spawnSync } from 'node:child_process';
import { median } from './common.js';

const [before, after, state, out, roundsArg] = process.argv.slice(2);
if (before === undefined || after === undefined || state === undefined || out === undefined) {
  process.stderr.write('usage: node dist/bench/cli-startup.js <before bin/dps.js> <after bin/dps.js> <state> <out> [rounds]\n');
  process.exit(2);
}
const rounds = Number(roundsArg ?? 15);
const builds = { before, after };
const commands: Record<string, string[]> = {
  '--version': ['--version'],
  'scrape --help': ['scrape', '--help'],
  'gallery (up to date)': ['gallery', '--out', out, '--state', state, '--quiet'],
};

type Times = { wall: number[]; cpu: number[] };
const results = new Map<string, { before: Times; after: Times }>();
for (let round = 0; round < rounds; round++) {
  for (const [name, args] of Object.entries(commands)) {
    const result = results.get(name) ?? { before: { wall: [], cpu: [] }, after: { wall: [], cpu: [] } };
    results.set(name, result);
    for (const which of round % 2 ? (['after', 'before'] as const) : (['before', 'after'] as const)) {
      const started = performance.now();
      // /usr/bin/time prints the child's user and system seconds on its last stderr line.
      const run = spawnSync('/usr/bin/time', ['-f', '%U %S', process.execPath, builds[which], ...args], { encoding: 'utf8' });
      const wall = performance.now() - started;
      if (run.status !== 0) throw new Error(`${which} ${name}: exit ${run.status}: ${run.stderr}`);
      const [user, system] = (run.stderr.trim().split('\n').pop() ?? '').split(' ').map(Number);
      result[which].wall.push(wall);
      result[which].cpu.push(((user ?? Number.NaN) + (system ?? Number.NaN)) * 1000);
    }
  }
}
for (const [name, r] of results) {
  const ratios = r.before.wall.map((b, i) => (r.after.wall[i] ?? Number.NaN) / b);
  console.log(
    `${name}: wall ms before ${median(r.before.wall).toFixed(0)}, after ${median(r.after.wall).toFixed(0)}; CPU ms before ${median(r.before.cpu).toFixed(0)}, ` +
      `after ${median(r.after.cpu).toFixed(0)}; after / before, per round: median ${median(ratios).toFixed(2)} (${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}, ${rounds} rounds)`,
  );
}
