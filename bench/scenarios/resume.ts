// resume: a no-op re-run of an archived channel: message requests made and wall time (vs bare process start).

import { CLI, log, median, runDps, runProcess, scratch, startFake, channelArgs } from '../common.js';
import type { BenchContext, ScenarioResult } from '../common.js';

export async function resume(ctx: BenchContext): Promise<ScenarioResult> {
  const messages = ctx.quick ? 2_000 : 20_000;
  const fake = await startFake({ scenario: { kind: 'channel', messages, imageRatio: 0.1 }, options: { rateLimit: { off: true } } });
  const dir = await scratch('resume');
  const walls: number[] = [];
  const requests: number[] = [];
  const starts: number[] = [];
  try {
    const args = channelArgs(fake, dir);
    const first = await runDps(fake, args);
    if (first.code !== 0) throw new Error(`first run exited ${first.code}: ${first.stderr}`);
    for (let run = 0; run < Math.max(3, ctx.runs); run++) {
      await fake.stats({ reset: true });
      const r = await runDps(fake, args);
      if (r.code !== 0 || r.summary?.saved !== 0) throw new Error(`re-run exited ${r.code}, saved ${r.summary?.saved}`);
      const s = await fake.stats();
      const history = Object.values(s.history).reduce((a, b) => a + b, 0);
      const start = await runProcess(process.execPath, [CLI, '--version']);
      walls.push(r.wallMs);
      requests.push(history);
      starts.push(start.wallMs);
      log(`resume run ${run + 1}: ${history} message requests, ${r.wallMs.toFixed(0)} ms (process start ${start.wallMs.toFixed(0)} ms)`);
    }
  } finally {
    dir.cleanup();
    await fake.close();
  }
  const wall = median(walls);
  const start = median(starts);
  const maxRequests = Math.max(...requests);
  return {
    name: 'resume',
    title: 'Resume',
    command: 'dps --server-id G --channel-id C, run once to completion, then re-run unchanged; process start = `node bin/dps.js --version`',
    setup: `${messages.toLocaleString('en')} messages, 10% with images; rate limits off`,
    rows: [
      { figure: 'message requests of the no-op re-run (one channel)', value: String(maxRequests), runs: requests.join(', ') },
      { figure: 'wall time of the re-run, ms', value: wall.toFixed(0), runs: walls.map((v) => v.toFixed(0)).join(', ') },
      { figure: 'process start (`dps --version`), ms', value: start.toFixed(0), runs: starts.map((v) => v.toFixed(0)).join(', ') },
      { figure: 're-run minus process start, ms', value: (wall - start).toFixed(0) },
    ],
    targets: [
      { target: '<= 2 message requests per channel', measured: String(maxRequests), met: maxRequests <= 2 },
      { target: '< 1 s plus process start', measured: `${(wall - start).toFixed(0)} ms over start`, met: wall - start < 1000 },
    ],
    measuredAt: new Date().toISOString(),
    quick: ctx.quick,
    runs: Math.max(3, ctx.runs),
  };
}
