// Outside attacks on `dps follow` (issue 24): "every image ever posted ends up in the archive, byte-exact, stored
// once, none downloaded twice, announced once" while messages arrive steadily and in bursts of 100/s into several
// channels and new threads, and the Gateway drops, sends op 7, invalidates the session (resumable and not),
// refuses resumes and stops ACKing heartbeats. Black-box: the built CLI against the fake Discord.

import t from 'tap';
import type { Test } from 'tap';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { startFakeDiscord } from '../../fixtures/fake-discord.js';
import type { FakeDiscord, FakeOptions } from '../../fixtures/fake-discord.js';
import { buildScenario } from '../../fixtures/scenarios.js';
import { spawnCli } from '../helpers/harness.js';
import { checkArchive } from '../helpers/verify.js';

type Ev = Record<string, unknown>;

// A running `dps follow` with its NDJSON events; until() fails (instead of hanging) after `limitMs`.
function follow(t: Test, fake: FakeDiscord, args: string[]) {
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

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function world(channels: number, threadsInFirst = 1) {
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

async function fakeWith(t: Test, channels: number, gateway: FakeOptions['gateway'] = {}): Promise<FakeDiscord> {
  const fake = await startFakeDiscord({ scenario: world(channels), gateway: { identifyIntervalMs: 0, heartbeatIntervalMs: 400, ...gateway } });
  t.teardown(() => fake.close());
  return fake;
}

// The archive equals fake.expected(), byte-exact, once on disk, each file fetched from the CDN once.
async function verify(t: Test, fake: FakeDiscord, dir: string, runs: Ev[][], opts: { killed?: boolean[] } = {}): Promise<void> {
  const expected = [...fake.expected({})].map((f) => f.attachment_id);
  const check = await checkArchive(fake, join(dir, 'out'), join(dir, 'state'));
  t.same(check.missing, [], `every one of the ${expected.length} files posted is archived byte-exact`);
  t.same(check.extraFiles, [], 'none stored twice');
  t.same(check.tempFiles, [], 'no temp files');
  const fetched = new Map<string, number>();
  for (const r of fake.requests) if (r.kind === 'cdn' && r.status === 200) fetched.set(r.path, (fetched.get(r.path) ?? 0) + 1);
  const twice = [...fetched].filter(([, n]) => n > 1).map(([p]) => p);
  t.same(twice, [], 'none downloaded twice');
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

t.test('storm: steady posts, bursts of 100/s into channels and new threads, drop, op 7, op 9 (both), refused resume, zombie', async (t) => {
  const fake = await fakeWith(t, 3);
  const dir = t.testdir();
  const guildId = fake.scenario.guilds[0]!.id;
  const channels = fake.scenario.guilds[0]!.channels.filter((c) => c.gen && !c.thread).map((c) => c.id);
  const args = ['--server-id', guildId, '--all-channels', '--out', join(dir, 'out'), '--state', join(dir, 'state'), '--types', 'all'];
  const run = follow(t, fake, args);
  await run.until('the catch-up', () => run.events.filter((e) => e.event === 'channel_done').length >= 4);
  await fake.gateway.untilIdentified(1);

  const targets = [...channels];
  let n = 0;
  const post = (): void => {
    fake.postMessage(targets[n++ % targets.length]!, { attachments: 1 + (n % 3) });
  };
  const burst = async (count: number): Promise<void> => {
    for (let i = 0; i < count; i++) {
      post();
      if (i % 10 === 9) await sleep(100); // 100 per second
    }
  };
  const steady = async (ms: number): Promise<void> => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      post();
      await sleep(50); // 20 per second
    }
  };
  await steady(500);
  await burst(100);
  targets.push(fake.createThread(channels[0]!), fake.createThread(channels[1]!));
  await burst(100);
  fake.gateway.drop();
  await burst(50);
  fake.gateway.reconnect();
  await burst(50);
  fake.gateway.invalidate(true);
  await steady(500);
  fake.gateway.invalidate(false);
  await burst(100);
  targets.push(fake.createThread(channels[2]!));
  fake.gateway.refuseResume();
  fake.gateway.drop();
  await burst(100);
  fake.gateway.stopAcks();
  await steady(2500);
  fake.gateway.resumeAcks();
  await burst(100);
  fake.gateway.stopAcks({ holdEvents: true });
  await steady(2500);
  fake.gateway.resumeAcks();
  await steady(500);

  const expected = (): string[] => [...fake.expected({})].map((f) => f.attachment_id);
  await run
    .until('every file posted', () => expected().every((id) => run.saved().has(id)), 60_000)
    .catch((err: Error) => t.fail(`not every file arrived: ${expected().filter((id) => !run.saved().has(id)).length} missing; ${err.message.slice(0, 300)}`));
  run.child.kill('SIGINT');
  const { code } = await run.exited;
  t.equal(code, 130, 'SIGINT: exit 130');
  t.comment(`gateway: ${JSON.stringify(fake.gateway.stats)}`);
  await verify(t, fake, dir, [run.events]);
});
