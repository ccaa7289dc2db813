// Outside attacks on `dps follow` (issue 24): SIGINT exits 130 and SIGTERM 143 with progress saved (a restart
// downloads nothing again), a bad token exits 3 with one line and the token nowhere, a kick exits 4, an edit that
// adds files archives them, a deleted thread or channel stops only itself. (Helpers as in follow-attack.test.ts.)

import t from 'tap';
import { join } from 'node:path';
import { readdir, readFile } from 'node:fs/promises';
import { spawnCli } from '../helpers/harness.js';
import { checkArchive } from '../helpers/verify.js';
import { follow, missing, sleep, fakeWith, verify } from '../helpers/follow-attack.js';

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
    await second.until('every file', () => missing(expected(), all()).length === 0);
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
