// Every failure of the CLI is one line on stderr (no stack trace) and the documented exit code: usage 2,
// auth 3 (after exactly one request), access 4, state 5. Usage errors make no request at all.

import t from 'tap';
import type { Test } from 'tap';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { P } from '../../fixtures/model.js';
import type { FakeDiscord } from '../../fixtures/fake-discord.js';
import { buildScenario, singleChannel } from '../../fixtures/scenarios.js';
import { collect } from '../helpers/harness.js';
import { fakeFor, firstTarget, ofEvent, rawLines, runDps, schemaProblems, stackLines, startCli, stderrLines } from './helpers.js';
import type { Finished } from './helpers.js';

// Two guilds: the bot is in the first (a readable and a hidden channel), not in the second.
const world = () =>
  buildScenario({
    seed: 21,
    guilds: [
      {
        name: 'Home',
        channels: [
          { name: 'general', messages: 12, imageRatio: 0.5, sizes: [2_000, 8_000] },
          { name: 'hidden', messages: 5, imageRatio: 0.5, overwrites: [{ target: 'everyone', deny: P.VIEW_CHANNEL }] },
        ],
      },
      { name: 'Elsewhere', botIsMember: false, channels: [{ name: 'other', messages: 5 }] },
    ],
  });

// The single stderr line of a failed run, checked for shape: "dps: ...", no stack trace, token redacted.
function oneLine(t: Test, run: Finished, secrets: string[] = []): string {
  const lines = stderrLines(run.stderr);
  t.equal(lines.length, 1, `exactly one stderr line, got: ${JSON.stringify(run.stderr)}`);
  t.same(stackLines(run.stderr), [], 'no stack trace');
  t.notMatch(run.stderr, /internal error/i, 'not an internal error');
  for (const secret of secrets) t.notOk(run.stderr.includes(secret) || run.stdout.includes(secret), 'the token is not printed');
  const problems = rawLines(run.stdout).flatMap((line) => schemaProblems(line));
  t.same(problems, [], 'stdout, if anything, is documented NDJSON');
  return lines[0] ?? '';
}

function dirs(t: Test): { dir: string; args: string[] } {
  const dir = t.testdir();
  return { dir, args: ['--out', join(dir, 'out'), '--state', join(dir, 'state')] };
}

// Scenario ids are deterministic, so every subtest can start its own fake (and count its requests alone)
// while the subtests run in parallel.
const ids = (() => {
  const w = world();
  const [home, elsewhere] = w.guilds;
  return {
    G: home!.id,
    C: home!.channels.find((c) => c.name === 'general')!.id,
    hidden: home!.channels.find((c) => c.name === 'hidden')!.id,
    otherG: elsewhere!.id,
    otherC: elsewhere!.channels[0]!.id,
  };
})();

t.test('usage and authentication errors', { jobs: 4 }, async (t) => {
  const { G, C } = ids;

  const usage =
    (args: string[], pattern: RegExp, withToken = true) =>
    async (t: Test): Promise<void> => {
      const fake = await fakeFor(t, { scenario: world() });
      const { args: paths } = dirs(t);
      const run = await runDps([...args, '--api', fake.api, ...paths], { env: withToken ? { DISCORD_TOKEN: fake.token } : {} });
      t.equal(run.code, 2, `exit 2 (stderr: ${run.stderr})`);
      t.match(oneLine(t, run, [fake.token]), pattern, 'the message names the problem');
      t.equal(fake.requests.length, 0, 'no request was made');
    };

  t.test('a rejected token: exit 3 after exactly one request', async (t) => {
    const fake = await fakeFor(t, { scenario: world() });
    const bad = 'MTIzNDU2Nzg5MDEyMzQ1Njc4.AAAAAA.not-the-right-token-at-all-xxxxxxxxxxxx';
    const { args } = dirs(t);
    const run = await runDps(['--server-id', G, '--channel-id', C, '--api', fake.api, ...args], { env: { DISCORD_TOKEN: bad } });
    t.equal(run.code, 3, `exit 3 (stderr: ${run.stderr})`);
    t.match(oneLine(t, run, [bad]), /token/i, 'the message says the token was rejected');
    t.equal(fake.requests.length, 1, `exactly one request: ${fake.requests.map((r) => r.route).join(', ')}`);
    t.equal(fake.requests[0]?.status, 401, 'and it was answered 401');
    t.equal(rawLines(run.stdout).filter((l) => l?.event === 'saved').length, 0, 'nothing saved');
  });

  t.test('a rejected user token: exit 3 after exactly one request', async (t) => {
    const fake = await fakeFor(t, { scenario: world() });
    const { args } = dirs(t);
    const run = await runDps(['--server-id', G, '--channel-id', C, '--api', fake.api, '--token-type', 'user', '--quiet', ...args], {
      env: { DISCORD_TOKEN: 'wrong-user-token-123456' },
    });
    t.equal(run.code, 3, `exit 3 (stderr: ${run.stderr})`);
    oneLine(t, run, ['wrong-user-token-123456']);
    t.equal(fake.requests.length, 1, 'exactly one request');
  });

  t.test('no token at all: exit 2, no request', usage(['--server-id', G, '--channel-id', C], /token/i, false));
  t.test('--server-id abc: exit 2, no request', usage(['--server-id', 'abc', '--channel-id', C], /server-id/));
  t.test('missing --server-id: exit 2, no request', usage(['--channel-id', C], /server-id/));
  t.test('an unknown flag: exit 2, no request', usage(['--server-id', G, '--channel-id', C, '--frobnicate'], /frobnicate/));
  t.test('an unknown command-like word: exit 2, no request', usage(['scrap', '--server-id', G, '--channel-id', C], /scrap|unknown/i));
  t.test("--name-pattern '{nope}': exit 2, no request", usage(['--server-id', G, '--channel-id', C, '--name-pattern', '{nope}'], /nope/));
  t.test('--max-size banana: exit 2, no request', usage(['--server-id', G, '--channel-id', C, '--max-size', 'banana'], /max-size/));
  t.test('--after notadate: exit 2, no request', usage(['--server-id', G, '--channel-id', C, '--after', 'notadate'], /after/));
  t.test('--concurrency 0: exit 2, no request', usage(['--server-id', G, '--channel-id', C, '--concurrency', '0'], /concurrency/));
  t.test('--token-type robot: exit 2, no request', usage(['--server-id', G, '--channel-id', C, '--token-type', 'robot'], /token-type/));
});

t.test('access errors: exit 4 with a clear one-line message', { jobs: 4 }, async (t) => {
  const denied = async (t: Test, args: string[], pattern: RegExp): Promise<FakeDiscord> => {
    const fake = await fakeFor(t, { scenario: world() });
    const { args: paths } = dirs(t);
    // Without --quiet: the error is still the only thing on stderr.
    const run = await runDps([...args, '--api', fake.api, ...paths], { env: { DISCORD_TOKEN: fake.token } });
    t.equal(run.code, 4, `exit 4 (stderr: ${run.stderr})`);
    t.match(oneLine(t, run, [fake.token]), pattern, 'the message names what is missing');
    t.equal(fake.requests.filter((r) => r.kind === 'cdn').length, 0, 'nothing downloaded');
    return fake;
  };

  t.test('an unknown channel id', async (t) => {
    const unknown = '123456789012345678';
    await denied(t, ['--server-id', ids.G, '--channel-id', unknown], new RegExp(`${unknown}.*(not found|unknown)|(not found|unknown).*${unknown}`, 'i'));
  });

  t.test('a channel the bot cannot view', async (t) => {
    const fake = await denied(t, ['--server-id', ids.G, '--channel-id', ids.hidden], new RegExp(`${ids.hidden}|hidden`));
    t.equal(fake.requests.filter((r) => r.route === 'GET /channels/:id/messages' && r.path.includes(ids.hidden)).length, 0, 'its history was never requested');
  });

  t.test('a server the bot is not in', async (t) => {
    await denied(t, ['--server-id', ids.otherG, '--channel-id', ids.otherC], new RegExp(ids.otherG));
  });

  t.test('a channel of another server than --server-id', async (t) => {
    await denied(t, ['--server-id', ids.G, '--channel-id', ids.otherC], new RegExp(ids.otherC));
  });

  t.test('one readable and one hidden channel: the readable one is archived, exit 4', async (t) => {
    const fake = await fakeFor(t, { scenario: world() });
    const { args: paths } = dirs(t);
    const run = await runDps(['--server-id', ids.G, '--channel-id', ids.C, '--channel-id', ids.hidden, '--api', fake.api, '--quiet', ...paths], {
      env: { DISCORD_TOKEN: fake.token },
    });
    t.equal(run.code, 4, `exit 4 (stderr: ${run.stderr})`);
    t.same(stackLines(run.stderr), [], 'no stack trace');
    const lines = rawLines(run.stdout);
    t.same(
      lines.flatMap((l) => schemaProblems(l)),
      [],
      'documented events',
    );
    const want = (await collect(fake.expected({ channelId: ids.C }))).map((a) => a.attachment_id).sort();
    t.same(
      lines
        .filter((l) => l?.event === 'saved')
        .map((l) => l?.attachment_id)
        .sort(),
      want,
      'the readable channel is archived completely',
    );
    t.equal(lines.at(-1)?.exit_code, 4, 'summary.exit_code 4');
  });
});

// The lock: while a scrape holds a --state, a second scrape and `manifest` exit 5, `status` answers from the
// running scrape's progress.json, and the first scrape finishes normally. The first run is paused (SIGSTOP)
// after its first event, so it surely holds the lock while the others run.
t.test('a held --state: a second scrape and manifest exit 5, status reads progress.json, the first completes', async (t) => {
  const fake = await fakeFor(t, { scenario: singleChannel({ seed: 22, messages: 300, imageRatio: 0.2, sizes: [2_000, 6_000] }), rateLimit: { latencyMs: 20 } });
  const { G, C } = firstTarget(fake);
  const { dir, args } = dirs(t);
  const env = { DISCORD_TOKEN: fake.token };
  const first = startCli(['--server-id', G, '--channel-id', C, '--api', fake.api, ...args], { env });
  await first.waitFor(1);
  first.child.kill('SIGSTOP');
  t.teardown(() => void first.child.kill('SIGCONT'));

  const second = await runDps(['--server-id', G, '--channel-id', C, '--api', fake.api, '--out', join(dir, 'out2'), '--state', join(dir, 'state')], { env });
  t.equal(second.code, 5, `the second exits 5 (stderr: ${second.stderr})`);
  t.match(oneLine(t, second, [fake.token]), /lock|in use|another/i, 'the message says the state is in use');
  t.match(second.stderr, /in use by a running dps scrape; try again once it has stopped/, 'by a running dps scrape'); // its progress.json names it
  t.equal(rawLines(second.stdout).filter((l) => l?.event === 'saved').length, 0, 'the second saved nothing');
  t.notOk(existsSync(join(dir, 'out2')) && readdirSync(join(dir, 'out2')).length > 0, 'the second wrote nothing');

  const manifest = await runDps(['manifest', '--state', join(dir, 'state')]);
  t.equal(manifest.code, 5, `manifest exits 5 (stderr: ${manifest.stderr})`);
  oneLine(t, manifest);
  const status = await runDps(['status', '--state', join(dir, 'state')]);
  t.equal(status.code, 0, `status exits 0 (stderr: ${status.stderr})`);
  t.match(status.stderr, /in use by a running dps scrape; showing its progress\.json as of/, 'and says where its answer comes from');
  t.equal(first.child.exitCode, null, 'the first run was still running when the others ended');

  first.child.kill('SIGCONT');
  const done = await first.done;
  t.equal(done.code, 0, `the first completes with exit 0 (stderr: ${done.stderr})`);
  const want = (await collect(fake.expected({ channelId: C })))
    .filter((a) => /^image\//.test(a.content_type ?? ''))
    .map((a) => a.attachment_id)
    .sort();
  t.same(
    done.lines
      .filter(ofEvent('saved'))
      .map((l) => l.attachment_id)
      .sort(),
    want,
    'the first archived the whole channel',
  );
  const after = await runDps(['status', '--state', join(dir, 'state')]);
  t.equal(after.code, 0, 'status works after the first run released the lock');
  t.notMatch(after.stderr, /in use by/, 'and reads the state itself');
});

t.test('a folder that is not a dps state: exit 5, nothing touched', { jobs: 3 }, async (t) => {
  const fake = await fakeFor(t, { scenario: singleChannel({ seed: 24, messages: 5 }) });
  const { G, C } = firstTarget(fake);
  const check = async (t: Test, command: string[]): Promise<void> => {
    const dir = t.testdir();
    const state = join(dir, 'not-state');
    mkdirSync(state);
    const file = join(state, 'notes.txt');
    writeFileSync(file, 'my precious notes\n');
    const before = statSync(file);
    const run = await runDps([...command, '--state', state], { env: { DISCORD_TOKEN: fake.token } });
    t.equal(run.code, 5, `exit 5 (stderr: ${run.stderr})`);
    t.match(oneLine(t, run, [fake.token]), /state/i, 'the message says it is not a dps state');
    t.same(readdirSync(state), ['notes.txt'], 'nothing was created in the folder');
    t.equal(readFileSync(file, 'utf8'), 'my precious notes\n', 'the file is untouched');
    t.equal(statSync(file).mtimeMs, before.mtimeMs, 'not even rewritten');
  };
  t.test('scrape', (t) => check(t, ['--server-id', G, '--channel-id', C, '--api', fake.api, '--out', join(t.testdirName, 'out')]));
  t.test('status', (t) => check(t, ['status']));
  t.test('manifest', (t) => check(t, ['manifest']));
});
