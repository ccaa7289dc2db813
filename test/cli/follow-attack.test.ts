// Outside attacks on `dps follow` (issue 24): "every image ever posted ends up in the archive, byte-exact, stored
// once, none downloaded twice, announced once" while messages arrive steadily and in bursts of 100/s into several
// channels and new threads, and the Gateway drops, sends op 7, invalidates the session (resumable and not),
// refuses resumes and stops ACKing heartbeats. Black-box: the built CLI against the fake Discord.

import t from 'tap';
import { join } from 'node:path';
import { follow, sleep, fakeWith, verify } from '../helpers/follow-attack.js';

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
