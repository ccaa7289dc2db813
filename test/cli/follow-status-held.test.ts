// Every other command run while `dps follow` holds the state, end to end: the follow's progress.json names it,
// so each command that needs the state (scrape, its dry run, retry-failed, its dry run, a second follow,
// manifest, stats, demo) is refused with one line naming "a running dps follow" and exit 5 (DPS_STORE_LOCKED),
// writes nothing on stdout and changes nothing on disk; `dps status` answers from the follow's progress.json and
// says it is the follow's (`command: "follow"`). The follow is unharmed: it still archives what is posted after.
// A progress.json whose run was killed long ago names nobody: the refusal says "another dps process".

import t from 'tap';
import type { Test } from 'tap';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Level } from 'level';
import { startFakeDiscord } from '../../fixtures/fake-discord.js';
import { buildScenario } from '../../fixtures/scenarios.js';
import { allSaved, channelStatus, startFollow, statusOf, statusUntil } from './follow-cli.js';
import { runDps } from './helpers.js';
import type { Finished } from './helpers.js';

// Every file under `dir` (progress.json and its temp files aside: the running follow rewrites them): its bytes'
// hash, size and modification time; and every folder.
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (folder: string): void => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      const name = relative(dir, path);
      if (/^progress\.json/.test(name)) continue;
      if (entry.isDirectory()) {
        out[`${name}/`] = 'folder';
        walk(path);
      } else {
        const stat = statSync(path);
        out[name] = `${createHash('sha256').update(readFileSync(path)).digest('hex')} ${stat.size} ${stat.mtimeMs}`;
      }
    }
  };
  walk(dir);
  return out;
}

// One line on stderr, `dps: ` and the message; nothing on stdout.
function refusedWith(t: Test, run: Finished, message: RegExp, what: string): void {
  t.equal(run.code, 5, `${what}: exit 5 (stderr: ${run.stderr})`);
  const lines = run.stderr.split('\n').filter((line) => line !== '');
  t.match(lines.at(-1) ?? '', message, `${what}: the refusal names what holds the state`);
  t.notMatch(run.stderr, /\n\s+at |internal error/, `${what}: no stack trace`);
  t.equal(run.stdout, '', `${what}: nothing on stdout`);
}

t.test('while dps follow holds the state: every other command names it and changes nothing', async (t) => {
  const scenario = buildScenario({ seed: 2402, guilds: [{ name: 'Held', channels: [{ name: 'live', messages: 12, imageRatio: 0.5 }] }] });
  const fake = await startFakeDiscord({ scenario, gateway: { identifyIntervalMs: 0 } });
  t.teardown(() => fake.close());
  const dir = t.testdir();
  const guildId = fake.scenario.guilds[0]!.id;
  const live = fake.scenario.guilds[0]!.channels[0]!.id;
  const out = join(dir, 'out');
  const state = join(dir, 'state');
  const common = ['--server-id', guildId, '--channel-id', live, '--out', out, '--state', state, '--types', 'all'];
  const env = { DISCORD_TOKEN: fake.token, DISCORD_API_URL: fake.api };

  const follow = startFollow(t, fake, common);
  await follow.until('the catch-up', () => follow.events.some((e) => e.event === 'channel_done'));
  const first = fake.postMessage(live, { attachments: 2 });
  await follow.until('the live files', () => allSaved(follow, first.files));
  // Its progress.json names it, and shows the live message: the follow is idle from here on.
  const running = await statusUntil(
    state,
    dir,
    (s) => (s.report as { command?: string }).command === 'follow' && channelStatus(s, guildId, live)?.last_event_at !== undefined,
  );
  t.match(running.stderr, /^dps: the state is in use by a running dps follow; showing its progress\.json as of \S+ \(\d+ s ago\)$/m, 'status names the follow');
  t.equal(channelStatus(running, guildId, live)?.following, true, 'and shows the channel following');
  const before = snapshot(dir);

  const named = /^dps: state directory .+ is in use by a running dps follow; try again once it has stopped$/;
  const commands: Array<[string, string[]]> = [
    ['dps scrape', ['scrape', ...common]],
    ['dps scrape --dry-run', ['scrape', ...common, '--dry-run']],
    ['dps retry-failed', ['retry-failed', ...common]],
    ['dps retry-failed --dry-run', ['retry-failed', ...common, '--dry-run']],
    ['a second dps follow', ['follow', ...common]],
    ['dps manifest', ['manifest', '--state', state]],
    ['dps manifest --format csv', ['manifest', '--state', state, '--format', 'csv']],
    ['dps stats', ['stats', '--state', state, '--format', 'ndjson']],
  ];
  for (const [what, args] of commands) {
    refusedWith(t, await runDps(args, { cwd: dir, env }), named, what);
    t.same(snapshot(dir), before, `${what}: nothing on disk changed`);
  }
  // dps demo archives its own fake server into --state: refused the same way (after its first line, the fake's address).
  const demo = await runDps(['demo', '--out', out, '--state', state], { cwd: dir });
  t.equal(demo.code, 5, `dps demo: exit 5 (stderr: ${demo.stderr})`);
  t.match(demo.stderr.trimEnd().split('\n').at(-1) ?? '', named, 'dps demo: the refusal names the follow');
  t.notMatch(demo.stderr, /\n\s+at |internal error/, 'dps demo: no stack trace');
  t.same(snapshot(dir), before, 'dps demo: nothing on disk changed');

  const status = await statusOf(state, dir);
  t.equal(status.code, 0, 'dps status answers');
  t.equal((status.report as { command?: string }).command, 'follow', 'with command: "follow" in its JSON');
  t.same(snapshot(dir), before, 'dps status: nothing on disk changed');

  // The follow kept its lock and goes on: a file posted now is archived.
  const second = fake.postMessage(live, { attachments: 1 });
  await follow.until('the file posted after the refused commands', () => allSaved(follow, second.files));
  const stillHeld = await runDps(['manifest', '--state', state], { cwd: dir });
  refusedWith(t, stillHeld, named, 'dps manifest after the new file');

  follow.child.kill('SIGINT');
  t.equal((await follow.exited).code, 130, 'the follow stops on SIGINT: exit 130');
  const manifest = await runDps(['manifest', '--state', state], { cwd: dir });
  t.equal(manifest.code, 0, `once it stopped, dps manifest reads the state (stderr: ${manifest.stderr})`);
  const listed = new Set(
    manifest.stdout
      .trim()
      .split('\n')
      .map((line) => String((JSON.parse(line) as { attachment_id: string }).attachment_id)),
  );
  t.ok(
    [...first.files, ...second.files].every((f) => listed.has(f.attachment_id)),
    'with every live file',
  );
  const after = await statusOf(state, dir);
  t.equal(after.code, 0, 'dps status of the stopped follow');
  t.notMatch(after.stderr, /in use by/, 'reads the state itself');
  t.equal((after.report as { command?: string }).command, undefined, 'no command then');
});

t.test('a follow killed long ago is not named: its stale progress.json names nobody', async (t) => {
  const scenario = buildScenario({ seed: 2403, guilds: [{ name: 'Stale', channels: [{ name: 'live', messages: 6, imageRatio: 0.5 }] }] });
  const fake = await startFakeDiscord({ scenario, gateway: { identifyIntervalMs: 0 } });
  t.teardown(() => fake.close());
  const dir = t.testdir();
  const guildId = fake.scenario.guilds[0]!.id;
  const live = fake.scenario.guilds[0]!.channels[0]!.id;
  const state = join(dir, 'state');
  const common = ['--server-id', guildId, '--channel-id', live, '--out', join(dir, 'out'), '--state', state, '--types', 'all'];

  const follow = startFollow(t, fake, common);
  await follow.until('the catch-up', () => follow.events.some((e) => e.event === 'channel_done'));
  await statusUntil(state, dir, (s) => (s.report as { command?: string }).command === 'follow' && channelStatus(s, guildId, live)?.following === true);
  follow.child.kill('SIGKILL');
  await follow.exited;
  // Killed a minute ago: its last progress.json still says running (a follow) but was written then.
  const file = join(dir, 'progress.json');
  const left = JSON.parse(readFileSync(file, 'utf8')) as {
    running: boolean;
    command: string;
    updated_at: string;
    servers: Record<string, { channels: Record<string, { following?: boolean }> }>;
  };
  t.equal(left.running, true, 'the killed follow left running: true');
  t.equal(left.servers[guildId]?.channels[live]?.following, true, 'and its channel following: true');
  t.equal(left.command, 'follow', 'and command: "follow"');
  writeFileSync(file, JSON.stringify({ ...left, updated_at: new Date(Date.now() - 60_000).toISOString() }));

  // Another holder (as a dps manifest would be): the refusal cannot name it, and does not name the dead follow.
  const held = new Level(state);
  await held.open();
  t.teardown(() => held.close());
  const refused = await runDps(['scrape', ...common], { cwd: dir, env: { DISCORD_TOKEN: fake.token, DISCORD_API_URL: fake.api } });
  refusedWith(t, refused, /^dps: state directory .+ is in use by another dps process$/, 'dps scrape');
  const status = await statusOf(state, dir);
  t.equal(status.code, 0, 'dps status answers from the last progress.json');
  t.match(status.stderr, /^dps: the state is in use by another dps process; showing the last progress\.json as of /m, 'without naming the dead follow');
  t.equal((status.report as { command?: string }).command, undefined, 'no command in its JSON');
  t.notOk(channelStatus(status, guildId, live)?.following, 'and no channel following');
});
