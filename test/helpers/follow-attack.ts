// The outside attacks on `dps follow` (test/cli/follow-attack*.test.ts) share these: a running follow with its
// NDJSON events, the attack world, and the check that the archive equals everything posted.

import type { Test } from 'tap';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { startFakeDiscord } from '../../fixtures/fake-discord.js';
import type { FakeDiscord, FakeOptions } from '../../fixtures/fake-discord.js';
import { buildScenario } from '../../fixtures/scenarios.js';
import { spawnCli } from './harness.js';
import { checkArchive } from './verify.js';

export type Ev = Record<string, unknown>;

// A running `dps follow` with its NDJSON events; until() fails (instead of hanging) after `limitMs`.
export function follow(t: Test, fake: FakeDiscord, args: string[]) {
  const child = spawnCli(['follow', ...args], { cwd: t.testdirName, env: { DISCORD_TOKEN: fake.token, DISCORD_API_URL: fake.api } });
  const events: Ev[] = [];
  let stderr = '';
  createInterface({ input: child.stdout }).on('line', (line) => events.push(JSON.parse(line) as Ev));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  let ended = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => {
      ended = true;
      resolve({ code, signal });
    }),
  );
  const until = async (what: string, test: () => boolean, limitMs = 60_000): Promise<void> => {
    const start = Date.now();
    while (!test()) {
      if (ended) throw new Error(`dps follow exited before ${what}: ${stderr.slice(-2000)}`);
      if (Date.now() - start > limitMs) throw new Error(`still waiting for ${what} after ${limitMs} ms; stderr: ${stderr.slice(-2000)}`);
      await sleep(20);
    }
  };
  const saved = (): Set<string> => new Set(events.filter((e) => e.event === 'saved').map((e) => String(e.attachment_id)));
  return { child, events, until, exited, saved, stderr: () => stderr };
}

// The ids of `expected` not in `have`. The attacks poll this every 20 ms in the process that also runs the fake
// Discord: `have` is built once per poll by the caller, never once per id (thousands of ids times thousands of
// events blocked that process for seconds, and the fake with it: its Gateway then closed heartbeating clients).
export function missing(expected: readonly string[], have: ReadonlySet<string>): string[] {
  return expected.filter((id) => !have.has(id));
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function world(channels: number, threadsInFirst = 1) {
  return buildScenario({
    seed: 7,
    guilds: [
      {
        name: 'Attack',
        channels: Array.from({ length: channels }, (_, i) => ({
          name: `c${i}`,
          messages: 40,
          imageRatio: 0.4,
          sizes: [2000, 20000] as [number, number],
          gapRate: 0,
          threads: i === 0 ? Array.from({ length: threadsInFirst }, (_, k) => ({ name: `t${k}`, messages: 8, imageRatio: 0.5 })) : [],
        })),
      },
    ],
  });
}

export async function fakeWith(t: Test, channels: number, gateway: FakeOptions['gateway'] = {}): Promise<FakeDiscord> {
  const fake = await startFakeDiscord({ scenario: world(channels), gateway: { identifyIntervalMs: 0, heartbeatIntervalMs: 400, ...gateway } });
  t.teardown(() => fake.close());
  return fake;
}

// The archive equals fake.expected(), byte-exact, once on disk, each file fetched from the CDN once.
// `startedAt` (Date.now() when each run was spawned) lets the check tell which run made each CDN fetch.
export async function verify(t: Test, fake: FakeDiscord, dir: string, runs: Ev[][], opts: { killed?: boolean[]; startedAt?: number[] } = {}): Promise<void> {
  const expected = [...fake.expected({})].map((f) => f.attachment_id);
  const check = await checkArchive(fake, join(dir, 'out'), join(dir, 'state'));
  t.same(check.missing, [], `every one of the ${expected.length} files posted is archived byte-exact`);
  t.same(check.extraFiles, [], 'none stored twice');
  t.same(check.tempFiles, [], 'no temp files');
  const fetched = new Map<string, number>();
  for (const r of fake.requests) if (r.kind === 'cdn' && r.status === 200) fetched.set(r.path, (fetched.get(r.path) ?? 0) + 1);
  const twice = [...fetched].filter(([, n]) => n > 1).map(([p]) => p);
  if (opts.killed?.some(Boolean)) {
    // A kill -9 while a download is in flight (or its record not yet written) makes the next run fetch that file
    // again: listed, not failed. A file fetched again although an earlier run had announced it saved is not excusable.
    if (twice.length > 0) t.comment(`fetched twice (in flight at a kill?): ${twice.join(' ')}`);
    const announcedEarlier = twice.filter((path) => {
      const id = path.split('/')[3]!;
      const runsWith = runs.map((events) => events.some((e) => e.event === 'saved' && e.attachment_id === id));
      const first = runsWith.indexOf(true);
      // With the runs' start times: a fetch in a run after the first one that announced it (a fetch by the
      // announcing run itself, or a later run announcing it again without a fetch, is no second download).
      const { startedAt } = opts;
      if (startedAt !== undefined) {
        const runOf = (at: number): number => startedAt.findLastIndex((start) => start <= at);
        return first >= 0 && fake.requests.some((r) => r.kind === 'cdn' && r.status === 200 && r.path === path && runOf(r.at) > first);
      }
      return first >= 0 && first < runs.length - 1 && runsWith.lastIndexOf(true) > first;
    });
    t.same(announcedEarlier, [], 'no file announced saved by a run is downloaded again by a later one');
  } else t.same(twice, [], 'none downloaded twice');
  // Announced once: a repeat is allowed only after a kill -9 of the run that printed it first (README).
  const firstBy = new Map<string, number>();
  const repeats: string[] = [];
  runs.forEach((events, run) => {
    const seenHere = new Set<string>();
    for (const e of events) {
      if (e.event !== 'saved') continue;
      const id = String(e.attachment_id);
      if (seenHere.has(id)) repeats.push(`${id} twice in run ${run}`);
      seenHere.add(id);
      const first = firstBy.get(id);
      if (first === undefined) firstBy.set(id, run);
      else if (!opts.killed?.[first]) repeats.push(`${id} in run ${first} and again in run ${run}`);
    }
  });
  t.same(repeats, [], 'announced once (repeats only after a kill -9)');
  const never = expected.filter((id) => !firstBy.has(id));
  t.same(never, [], 'every file archived was announced');
}

// A seeded generator so a failing run can be replayed (the seed is printed).
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}
