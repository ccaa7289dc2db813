// `npm run bench` / `node dist/bench/run.js [scenario...] [--quick] [--runs N] [--scan N] [--only PART]`: runs the scenarios
// against the fake (each in its own processes), saves bench/results/<scenario>.json and renders bench/RESULTS.md.

import { removeScratch, saveResult, settleDisk } from './common.js';
import type { BenchContext, ScenarioResult } from './common.js';
import { writeReport } from './report.js';
import { cdn } from './scenarios/cdn.js';
import { downloads } from './scenarios/downloads.js';
import { follow } from './scenarios/follow.js';
import { memory } from './scenarios/memory.js';
import { pages } from './scenarios/pages.js';
import { peers } from './scenarios/peers.js';
import { powerlaw } from './scenarios/powerlaw.js';
import { realistic } from './scenarios/realistic.js';
import { resume } from './scenarios/resume.js';
import { server } from './scenarios/server.js';
import { galleryScenario } from './scenarios/gallery.js'; // issue 25
import { s3 } from './scenarios/s3.js'; // issue 26

const argv = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const quick = argv.includes('--quick');
// Runs per scenario unless --runs says otherwise. Downloads is the noisiest figure on these VMs (one pair of
// runs moves 0.82-0.97 between pairs minutes apart, nothing changed: bench/limits.md) and the cheapest to repeat;
// cdn's runs are its interleaved pairs against the peer (at least 5 for its target).
const DEFAULT_RUNS = 3;
const defaultRuns: Record<string, number> = { downloads: 5, cdn: 5 };
const only = flag('only'); // e.g. `gallery --only page`: the 200,000-image page alone
const contextFor = (name: string): BenchContext => ({ quick, runs: Number(flag('runs') ?? defaultRuns[name] ?? DEFAULT_RUNS), only });
const scan = flag('scan');
const all: Record<string, (ctx: BenchContext) => Promise<ScenarioResult>> = {
  downloads,
  cdn,
  pages,
  server,
  realistic,
  powerlaw,
  memory: (c) => memory(c, scan !== undefined ? { scan: Number(scan) } : {}),
  resume,
  peers,
  follow, // issue 24: dps follow's latency and memory
  gallery: galleryScenario, // issue 25: dps gallery's thumbnails and the page
  s3, // issue 26: archiving to S3 (a real Ceph RGW) vs a bare lib-storage loop; peak RSS with 8 files of 200 MB
};
const values = new Set([flag('runs'), flag('scan'), only]);
const chosen = argv.filter((a, i) => !a.startsWith('--') && !(values.has(a) && argv[i - 1]?.startsWith('--')));
const unknown = chosen.filter((name) => !(name in all));
if (unknown.length > 0) {
  process.stderr.write(`unknown scenario(s): ${unknown.join(', ')}; choose from ${Object.keys(all).join(', ')}\n`);
  process.exit(2);
}
const started = Date.now();
// Scratch folders stay until the end while the disk has room for the next scenario (common.ts, removeScratch).
const KEEP_WHILE_FREE_BYTES = 40e9;
try {
  await settleDisk(); // files deleted just before (an earlier bench, npm test) slow every create for minutes
  for (const name of chosen.length > 0 ? chosen : Object.keys(all)) {
    process.stderr.write(`[bench] ${name}${quick ? ' (quick)' : ''}...\n`);
    const at = Date.now();
    try {
      saveResult(await all[name]!(contextFor(name)));
    } finally {
      removeScratch({ unlessFreeAbove: KEEP_WHILE_FREE_BYTES });
    }
    process.stderr.write(`[bench] ${name} done in ${((Date.now() - at) / 1000).toFixed(0)} s\n`);
  }
} finally {
  removeScratch();
}
writeReport(`node dist/bench/run.js ${argv.join(' ')}`.trim(), quick);
process.stderr.write(`[bench] all done in ${((Date.now() - started) / 1000).toFixed(0)} s; see bench/RESULTS.md\n`);
