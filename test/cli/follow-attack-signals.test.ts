// Outside attacks on `dps follow` (issue 24): SIGINT exits 130 and SIGTERM 143 with progress saved (a restart
// downloads nothing again), a bad token exits 3 with one line and the token nowhere, a kick exits 4, an edit that
// adds files archives them, a deleted thread or channel stops only itself. (Helpers as in follow-attack.test.ts.)

import t from 'tap';
import type { Test } from 'tap';
import { join } from 'node:path';
import { readdir, readFile } from 'node:fs/promises';
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

// Every file under a folder (recursively), as bytes.
async function everyFile(dir: string): Promise<Array<{ path: string; bytes: Buffer }>> {
  const out: Array<{ path: string; bytes: Buffer }> = [];
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => []);
  for (const e of entries) if (e.isFile()) out.push({ path: join(e.parentPath, e.name), bytes: await readFile(join(e.parentPath, e.name)) });
  return out;
}

for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const) {
  t.test(`${signal} during a burst: exit ${code}, progress saved (a restart fetches nothing again and misses nothing)`, async (t) => {
    const fake = await fakeWith(t, 2);
    const dir = t.testdir();
    const guildId = fake.scenario.guilds[0]!.id;
    const channels = fake.scenario.guilds[0]!.channels.filter((c) => c.gen && !c.thread).map((c) => c.id);
    const args = ['--server-id', guildId, '--all-channels', '--out', join(dir, 'out'), '--state', join(dir, 'state'), '--types', 'all'];
    const first = follow(t, fake, args);
    await first.until('the catch-up', () => first.events.filter((e) => e.event === 'channel_done').length >= 3);
    fake.setOption({ cdnLatencyMs: 200 }); // downloads in flight when the signal comes
    for (let i = 0; i < 60; i++) {
      fake.postMessage(channels[i % 2]!, { attachments: 2 });
      if (i % 10 === 9) await sleep(100);
    }
    await first.until('a live file', () => first.events.filter((e) => e.event === 'saved').length > first.events.findIndex((e) => e.event === 'channel_done'));
    const at = Date.now();
    first.child.kill(signal);
    const end = await first.exited;
    t.comment(`${signal}: exited after ${Date.now() - at} ms`);
    t.equal(end.code, code, `${signal}: exit ${code}`);
    t.equal(first.events.at(-1)?.event, 'summary', 'the summary is the last event');
    fake.setOption({ cdnLatencyMs: 0 });
    const second = follow(t, fake, args);
    const expected = (): string[] => [...fake.expected({})].map((f) => f.attachment_id);
    const all = (): Set<string> => new Set([...first.saved(), ...second.saved()]);
    await second.until('every file', () => expected().every((id) => all().has(id)));
    second.child.kill('SIGINT');
    t.equal((await second.exited).code, 130);
    await verify(t, fake, dir, [first.events, second.events]);
  });
}

t.test('a bad token: exit 3, one line, the token in no output and no file under --state or --out', async (t) => {
  const fake = await fakeWith(t, 1);
  const dir = t.testdir();
  const guildId = fake.scenario.guilds[0]!.id;
  const args = ['--server-id', guildId, '--all-channels', '--out', join(dir, 'out'), '--state', join(dir, 'state')];
  const bad = `${fake.token.slice(0, -4)}AAAA`;
  const child = spawnCli(['follow', ...args], { cwd: t.testdirName, env: { DISCORD_TOKEN: bad, DISCORD_API_URL: fake.api } });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  t.equal(code, 3, 'exit 3');
  t.equal(err.split('\n').filter((l) => l && !l.startsWith('note:') && !l.startsWith('warning:')).length, 1, `one line: ${err}`);
  t.notOk(out.includes(bad) || err.includes(bad), 'the token is in no output');
  for (const f of [...(await everyFile(join(dir, 'state'))), ...(await everyFile(join(dir, 'out')))]) t.notOk(f.bytes.includes(bad), `not in ${f.path}`);
});

t.test('a token revoked while following (Gateway close 4004): exit 3, one line, the token nowhere on disk', async (t) => {
  const fake = await fakeWith(t, 1);
  const dir = t.testdir();
  const guildId = fake.scenario.guilds[0]!.id;
  const args = ['--server-id', guildId, '--all-channels', '--out', join(dir, 'out'), '--state', join(dir, 'state')];
  const run = follow(t, fake, args);
  await run.until('the catch-up', () => run.events.some((e) => e.event === 'channel_done'));
  await fake.gateway.untilIdentified(1);
  const token = fake.token;
  fake.setOption({ token: 'revoked.token.value' });
  fake.gateway.close(4004, 'Authentication failed.');
  const end = await Promise.race([run.exited, sleep(30_000).then(() => undefined)]);
  if (!end) run.child.kill('SIGKILL');
  t.equal(end?.code, 3, `exit 3 (stderr: ${run.stderr().slice(-400)})`);
  const lines = run
    .stderr()
    .split('\n')
    .filter((l) => l && !/^(note|warning):/.test(l) && !/^saved /.test(l) && !/^(progress|\d)/.test(l));
  t.comment(lines.join('\n'));
  t.notOk(run.stderr().includes(token) || JSON.stringify(run.events).includes(token), 'the token is in no output');
  for (const f of [...(await everyFile(join(dir, 'state'))), ...(await everyFile(join(dir, 'out')))]) if (f.bytes.includes(token)) t.fail(`token in ${f.path}`);
});

t.test('kicked (GUILD_DELETE) while following: exit 4 with one clear line', async (t) => {
  const fake = await fakeWith(t, 1);
  const dir = t.testdir();
  const guildId = fake.scenario.guilds[0]!.id;
  const args = ['--server-id', guildId, '--all-channels', '--out', join(dir, 'out'), '--state', join(dir, 'state')];
  const run = follow(t, fake, args);
  await run.until('the catch-up', () => run.events.some((e) => e.event === 'channel_done'));
  await fake.gateway.untilIdentified(1);
  fake.kick(guildId);
  const end = await Promise.race([run.exited, sleep(30_000).then(() => undefined)]);
  if (!end) run.child.kill('SIGKILL');
  t.equal(end?.code, 4, `exit 4 (stderr: ${run.stderr().slice(-400)})`);
});

t.test('an edit that adds attachments (live message and a message of the history): the added files, once', async (t) => {
  const fake = await fakeWith(t, 1);
  const dir = t.testdir();
  const guildId = fake.scenario.guilds[0]!.id;
  const channel = fake.scenario.guilds[0]!.channels.find((c) => c.gen && !c.thread)!.id;
  const args = ['--server-id', guildId, '--channel-id', channel, '--out', join(dir, 'out'), '--state', join(dir, 'state'), '--types', 'all'];
  const run = follow(t, fake, args);
  await run.until('the catch-up', () => run.events.some((e) => e.event === 'channel_done'));
  const posted = fake.postMessage(channel, { attachments: 1 });
  await run.until('the live file', () => posted.files.every((f) => run.saved().has(f.attachment_id)));
  const edited = fake.updateMessage(channel, posted.id, { attachments: 2 });
  await run
    .until('the files the edit added', () => edited.files.every((f) => run.saved().has(f.attachment_id)), 15_000)
    .catch((err: Error) => t.fail(`live edit: ${err.message.slice(0, 200)}`));
  // An old message of the history (below the cursor) gains files.
  const old = [...fake.expected({ channelId: channel })].map((f) => f.message_id)[0]!;
  const oldEdit = fake.updateMessage(channel, old, { attachments: 1 });
  await run
    .until('the files an edit of an old message added', () => oldEdit.files.every((f) => run.saved().has(f.attachment_id)), 15_000)
    .catch((err: Error) => t.fail(`history edit: ${err.message.slice(0, 200)}`));
  run.child.kill('SIGINT');
  t.equal((await run.exited).code, 130);
  await verify(t, fake, dir, [run.events]);
});

t.test('a thread and a channel deleted while posting into them: the others go on, exit 130 on SIGINT', async (t) => {
  const fake = await fakeWith(t, 3);
  const dir = t.testdir();
  const guildId = fake.scenario.guilds[0]!.id;
  const channels = fake.scenario.guilds[0]!.channels.filter((c) => c.gen && !c.thread).map((c) => c.id);
  const args = ['--server-id', guildId, '--all-channels', '--out', join(dir, 'out'), '--state', join(dir, 'state'), '--types', 'all'];
  const run = follow(t, fake, args);
  await run.until('the catch-up', () => run.events.filter((e) => e.event === 'channel_done').length >= 4);
  const thread = fake.createThread(channels[0]!);
  for (let i = 0; i < 30; i++) {
    fake.postMessage(thread, { attachments: 1 });
    fake.postMessage(channels[2]!, { attachments: 1 });
    fake.postMessage(channels[1]!, { attachments: 1 });
    if (i === 15) {
      fake.deleteThread(thread);
      fake.deleteChannel(channels[2]!);
      break;
    }
    await sleep(10);
  }
  const later: string[] = [];
  for (let i = 0; i < 20; i++) later.push(...fake.postMessage(channels[i % 2]!, { attachments: 1 }).files.map((f) => f.attachment_id));
  await run
    .until('the files posted after the deletes', () => later.every((id) => run.saved().has(id)), 30_000)
    .catch((err: Error) => t.fail(err.message.slice(0, 300)));
  run.child.kill('SIGINT');
  t.equal((await run.exited).code, 130, 'exit 130');
  for (const c of channels.slice(0, 2)) {
    const check = await checkArchive(fake, join(dir, 'out'), join(dir, 'state'), c);
    t.same(check.missing, [], `channel ${c}: complete`);
  }
});
