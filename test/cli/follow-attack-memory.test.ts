// Outside attack on `dps follow` (issue 24): memory does not grow with a long live stream. Posts a steady stream
// (single images, --out on disk) and samples the child's RSS from /proc; the bench criterion is RSS at
// minute 30 <= 1.1 x minute 5; here the same ratio over a shorter run (ATTACK_STREAM_S, default 90 s).
// (Helpers as in follow-attack.test.ts.)

import t from 'tap';
import type { Test } from 'tap';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { startFakeDiscord } from '../../fixtures/fake-discord.js';
import type { FakeDiscord, FakeOptions } from '../../fixtures/fake-discord.js';
import { buildScenario } from '../../fixtures/scenarios.js';
import { spawnCli } from '../helpers/harness.js';

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

async function rssKb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
}

t.test('RSS stays flat over a long stream of live messages', { skip: process.platform !== 'linux' ? 'reads /proc' : false }, async (t) => {
  const seconds = Number(process.env.ATTACK_STREAM_S ?? 90);
  const rate = Number(process.env.ATTACK_RATE ?? 40);
  const fake = await fakeWith(t, 3, { heartbeatIntervalMs: 1000 });
  const dir = t.testdir();
  const guildId = fake.scenario.guilds[0]!.id;
  const channels = fake.scenario.guilds[0]!.channels.filter((c) => c.gen && !c.thread).map((c) => c.id);
  const args = ['--server-id', guildId, '--all-channels', '--out', join(dir, 'out'), '--state', join(dir, 'state'), '--types', 'all'];
  const run = follow(t, fake, args);
  await run.until('the catch-up', () => run.events.filter((e) => e.event === 'channel_done').length >= 4);
  run.events.length = 0; // keep the test's own memory small: count instead
  const samples: number[] = [];
  const start = Date.now();
  let n = 0;
  let nextSample = start + 5000;
  while (Date.now() - start < seconds * 1000) {
    fake.postMessage(channels[n++ % channels.length]!, { attachments: 1, size: 4000 });
    if (n % 200 === 0) fake.resetLog();
    if (n % 500 === 0) run.events.length = 0;
    await sleep(1000 / rate);
    if (Date.now() >= nextSample) {
      samples.push(await rssKb(run.child.pid!));
      nextSample += 5000;
    }
  }
  t.comment(`posted ${n} messages in ${seconds} s; RSS every 5 s (MB): ${samples.map((kb) => (kb / 1024).toFixed(1)).join(' ')}`);
  const early = Math.max(...samples.slice(2, 4)); // after 15-20 s: warmed up
  const late = Math.max(...samples.slice(-2));
  t.ok(late <= early * 1.1, `RSS at the end (${(late / 1024).toFixed(1)} MB) <= 1.1 x after 20 s (${(early / 1024).toFixed(1)} MB)`);
  run.child.kill('SIGINT');
  t.equal((await run.exited).code, 130);
});
