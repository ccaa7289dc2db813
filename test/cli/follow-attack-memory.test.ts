// Outside attack on `dps follow` (issue 24): memory does not grow with a long live stream. Posts a steady stream
// (single images, --out on disk) and samples the child's RSS from /proc; the bench criterion is RSS at
// minute 30 <= 1.1 x minute 5; here the same ratio over a shorter run (ATTACK_STREAM_S, default 90 s).
// (Helpers as in follow-attack.test.ts.)

import t from 'tap';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { follow, sleep, fakeWith } from '../helpers/follow-attack.js';

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
