// The token never leaks: runs through the CLI with a distinctive token (a good one, with faults, failures and
// a retry pass; and a rejected one) leave no trace of it in stdout, stderr, the download folder or the state.

import t from 'tap';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startFakeDiscord } from '../../fixtures/fake-discord.js';
import { singleChannel } from '../../fixtures/scenarios.js';
import { listFiles, runCli } from '../helpers/harness.js';
import type { CliOutput } from '../helpers/harness.js';

// Every byte a run produced: its stdout and stderr and every file under the given folders.
async function leaks(secret: string, outputs: CliOutput[], dirs: string[]): Promise<string[]> {
  const found: string[] = [];
  const needle = Buffer.from(secret);
  outputs.forEach((o, i) => {
    if (o.stdout.includes(secret)) found.push(`stdout of run ${i}`);
    if (o.stderr.includes(secret)) found.push(`stderr of run ${i}`);
  });
  for (const dir of dirs) {
    for (const file of await listFiles(dir)) {
      if ((await readFile(join(dir, file))).includes(needle)) found.push(join(dir, file));
    }
  }
  return found;
}

t.test('a good token appears nowhere: events, logs, warnings, failures, downloads, state', async (t) => {
  const token = 'MTIzNDU2Nzg5MDEyMzQ1Njc4.SeCrEt.dps-distinctive-token-7f3a9c';
  const fake = await startFakeDiscord({
    scenario: singleChannel({ seed: 71, messages: 200, imageRatio: 0.5, sizes: [1_000, 20_000], special: ['hostile', 'duplicates'] }),
    token,
    faults: { error5xxRate: 0.15, htmlErrorRate: 0.05, resetRate: 0.05, truncateRate: 0.05, seed: 2, target: 'cdn' },
    linkLifetimeSec: 2,
  });
  t.teardown(() => fake.close());
  const dir = t.testdir();
  const guild = fake.scenario.guilds[0]!;
  const channel = guild.channels[0]!;
  const common = ['--api', fake.api, '--out', join(dir, 'out'), '--state', join(dir, 'state'), '--types', 'all', '--no-progress'];
  const runs: CliOutput[] = [];
  // From the environment, then from --token (with a Bot prefix), then from .env, then retry-failed and manifest.
  runs.push(await runCli(['--server-id', guild.id, '--channel-id', channel.id, ...common], { env: { DISCORD_TOKEN: token }, cwd: dir }));
  runs.push(await runCli(['--server-id', guild.id, '--channel-id', channel.id, '--token', `Bot ${token}`, '--from-start', ...common], { cwd: dir }));
  fake.setOption({ faults: {} });
  runs.push(
    await runCli(['retry-failed', '--server-id', guild.id, ...common.filter((a) => a !== '--no-progress')], {
      env: { DISCORD_TOKEN: token, DPS_DEBUG: '1' },
      cwd: dir,
    }),
  );
  runs.push(await runCli(['manifest', '--state', join(dir, 'state')], { cwd: dir }));
  // A channel the token may not read: the access error is logged and reported in the summary.
  fake.forceStatus('GET /channels/:id/messages', 403, 1);
  runs.push(await runCli(['--server-id', guild.id, '--channel-id', channel.id, '--from-start', ...common], { env: { DISCORD_TOKEN: token }, cwd: dir }));
  t.ok(
    runs[0]!.lines.some((l) => l.event === 'saved'),
    'the first run saved files',
  );
  t.ok(
    runs.slice(0, 2).some((r) => r.lines.some((l) => l.event === 'failed')) || runs[0]!.stderr.length > 0,
    'the faulty runs produced failures or logs to scan',
  );
  t.ok(runs[3]!.lines.length > 0, 'the manifest lists records');
  t.match(runs[4]!.stderr, /access|403/i, 'the access error was logged');
  t.same(await leaks(token, runs, [join(dir, 'out'), join(dir, 'state')]), [], 'the token appears nowhere');
});

t.test('a rejected token appears nowhere either (401 path, error messages)', async (t) => {
  const fake = await startFakeDiscord({ scenario: singleChannel({ seed: 72, messages: 20 }) });
  t.teardown(() => fake.close());
  const bad = 'OTk5OTk5OTk5OTk5OTk5OTk5.BaDtOk.dps-rejected-token-51c2e8';
  const dir = t.testdir();
  const guild = fake.scenario.guilds[0]!;
  const channel = guild.channels[0]!;
  const common = ['--server-id', guild.id, '--api', fake.api, '--out', join(dir, 'out'), '--state', join(dir, 'state')];
  const runs: CliOutput[] = [];
  runs.push(await runCli([...common, '--channel-id', channel.id], { env: { DISCORD_TOKEN: bad, DPS_DEBUG: '1' }, cwd: dir }));
  runs.push(await runCli([...common, '--channel-id', channel.id, '--token', bad, '--token-type', 'user'], { cwd: dir }));
  runs.push(await runCli(['channels', '--server-id', guild.id, '--api', fake.api, '--token', bad], { cwd: dir }));
  runs.push(await runCli(['guilds', '--api', fake.api], { env: { DISCORD_TOKEN: bad }, cwd: dir }));
  for (const [i, run] of runs.entries()) {
    t.equal(run.code, 3, `run ${i}: exit code 3`);
    t.match(run.stderr, /token/i, `run ${i}: the error names the token as the problem`);
  }
  t.ok(fake.requests.length <= runs.length, `one request per run (${fake.requests.length})`);
  t.same(await leaks(bad, runs, [dir]), [], 'the rejected token appears nowhere');
});
