// Whole-server runs behind Discord-like limits (the server, powerlaw and realistic scenarios): the fake's limits,
// the makespan bound computed from those limits and the page counts, one run of
// `dps --server-id G --all-channels` at the defaults to completion, and the rows every such scenario shows.

import type { RateLimitOptions } from '../fixtures/fake-discord.js';
import { median, runDps, scratch, startFake } from './common.js';
import type { ProcessRun, Row } from './common.js';
import type { FakeProcessSpec } from './fake-process.js';

// Messages per history page (the most Discord returns).
export const PAGE = 100;

// Discord-like limits: message history really `hidden.limit` per `hiddenWindowMs` per channel while the headers
// advertise 1000, every other bucket 50/s, 50/s global, +80 ms on every API response.
export function discordLike(hiddenWindowMs = 5000): RateLimitOptions & { hidden: { limit: number; windowMs: number; advertisedLimit: number } } {
  return { perChannel: { limit: 50, windowMs: 1000 }, global: 50, hidden: { limit: 5, windowMs: hiddenWindowMs, advertisedLimit: 1000 }, latencyMs: 80 };
}

// The history pages a channel of `messages` needs at the least (the last page may be short).
export function pagesOf(messages: number): number {
  return messages > 0 ? Math.ceil(messages / PAGE) : 0;
}

export interface Bound {
  ms: number; // max(channelMs, globalMs)
  channelMs: number; // the largest channel's pages / the per-channel history rate
  globalMs: number; // all pages / the global rate
  pages: number; // all pages
  largestPages: number;
  perChannelPerSecond: number;
  globalPerSecond: number;
}

// The makespan bound of walking every channel under `limits`: no order of requests finishes sooner than the
// largest channel at its own rate, nor than all pages at the global rate.
export function makespanBound(messages: readonly number[], limits: ReturnType<typeof discordLike>): Bound {
  const pages = messages.map(pagesOf);
  const perChannelPerSecond = limits.hidden.limit / (limits.hidden.windowMs / 1000);
  const globalPerSecond = typeof limits.global === 'number' ? limits.global : 50;
  const total = pages.reduce((a, b) => a + b, 0);
  const largestPages = Math.max(...pages);
  const channelMs = (largestPages / perChannelPerSecond) * 1000;
  const globalMs = (total / globalPerSecond) * 1000;
  return { ms: Math.max(channelMs, globalMs), channelMs, globalMs, pages: total, largestPages, perChannelPerSecond, globalPerSecond };
}

// The `estimated_floor_ms` dps puts in its summary next to elapsed_ms (issue 22), when it does.
export function floorOf(summary: ProcessRun['summary']): number | undefined {
  const floor = (summary as { estimated_floor_ms?: unknown } | undefined)?.estimated_floor_ms;
  return typeof floor === 'number' ? floor : undefined;
}

export interface ServerRun {
  wallMs: number; // spawn to exit of `node bin/dps.js`
  elapsedMs: number; // the summary's elapsed_ms
  floorMs: number | undefined; // the summary's estimated_floor_ms
  peakRssMB: number;
  history200: number; // history requests answered 200
  api429: number;
  apiTotal: number;
  invalid: number;
}

// One run of the whole server to completion, at the defaults, on a fresh fake (fresh limit windows).
export async function runServer(name: string, spec: FakeProcessSpec, expectMessages: number): Promise<ServerRun> {
  const fake = await startFake(spec);
  const dir = await scratch(name);
  try {
    const r = await runDps(fake, ['--server-id', fake.guild_id, '--all-channels', '--out', dir.out, '--state', dir.state]);
    if (r.code !== 0 || r.summary?.messages !== expectMessages || r.summary.failed !== 0)
      throw new Error(`dps exited ${r.code} after ${r.summary?.messages} of ${expectMessages} messages, ${r.summary?.failed} failed: ${r.stderr}`);
    const s = await fake.stats();
    return {
      wallMs: r.wallMs,
      elapsedMs: r.summary.elapsed_ms,
      floorMs: floorOf(r.summary),
      peakRssMB: r.peakRssMB,
      history200: s.history['200'] ?? 0,
      api429: s.api['429'] ?? 0,
      apiTotal: Object.values(s.api).reduce((a, b) => a + b, 0),
      invalid: s.stats.invalid,
    };
  } finally {
    dir.cleanup();
    await fake.close();
  }
}

// "bound X s, dps's estimate Y s" for a target's measured column (the estimate only when dps reports one).
export function boundNote(runs: readonly ServerRun[], bound: Bound): string {
  const floors = runs.map((r) => r.floorMs).filter((v): v is number => v !== undefined);
  const estimate = floors.length > 0 ? `, dps's estimated_floor_ms ${(median(floors) / 1000).toFixed(1)} s` : '';
  return `bound ${(bound.ms / 1000).toFixed(1)} s${estimate}`;
}

// The rows every run-to-completion server scenario shows.
export function serverRows(runs: readonly ServerRun[], bound: Bound): Row[] {
  const s = (ms: number): string => (ms / 1000).toFixed(1);
  const list = (f: (r: ServerRun) => string): string => runs.map(f).join(', ');
  const floors = runs.map((r) => r.floorMs).filter((v): v is number => v !== undefined);
  const share = runs.map((r) => r.api429 / r.apiTotal);
  return [
    { figure: 'wall time of `node bin/dps.js`, s (spawn to exit)', value: s(median(runs.map((r) => r.wallMs))), runs: list((r) => s(r.wallMs)) },
    { figure: "the run's elapsed_ms, s", value: s(median(runs.map((r) => r.elapsedMs))), runs: list((r) => s(r.elapsedMs)) },
    {
      figure: `makespan bound, s: max(largest channel ${bound.largestPages} pages / ${bound.perChannelPerSecond}/s, all ${bound.pages} pages / ${bound.globalPerSecond}/s)`,
      value: `${s(bound.ms)} (${s(bound.channelMs)}, ${s(bound.globalMs)})`,
    },
    {
      figure: "dps's own estimated_floor_ms, s (summary; absent before issue 22)",
      value: floors.length > 0 ? s(median(floors)) : 'absent',
      runs: floors.length > 0 ? floors.map(s).join(', ') : '',
    },
    {
      figure: 'ratio bound / wall time',
      value: (bound.ms / median(runs.map((r) => r.wallMs))).toFixed(3),
      runs: list((r) => (bound.ms / r.wallMs).toFixed(3)),
    },
    {
      figure: `history requests answered 200 (pages of the bound: ${bound.pages})`,
      value: String(median(runs.map((r) => r.history200))),
      runs: list((r) => String(r.history200)),
    },
    {
      figure: 'API requests answered 429 (share)',
      value: `${(median(share) * 100).toFixed(2)}%`,
      runs: list((r) => `${r.api429}/${r.apiTotal}`),
    },
    {
      figure: `every API request of the run / ${bound.globalPerSecond}/s, s (the global term with listings and extra probes counted)`,
      value: s((median(runs.map((r) => r.apiTotal)) / bound.globalPerSecond) * 1000),
      runs: list((r) => s((r.apiTotal / bound.globalPerSecond) * 1000)),
    },
    {
      figure: 'invalid requests counted by the fake (401/403/non-shared 429)',
      value: String(median(runs.map((r) => r.invalid))),
      runs: list((r) => String(r.invalid)),
    },
    { figure: 'dps peak RSS, MB', value: median(runs.map((r) => r.peakRssMB)).toFixed(1), runs: list((r) => r.peakRssMB.toFixed(1)) },
  ];
}
