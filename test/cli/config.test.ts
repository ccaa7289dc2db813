// End to end through the built CLI (issue 23, Layout): the config file. ./dps.config.json in the working
// directory or --config FILE holds flags by their long names (kebab-case or camelCase); flags on the command line
// win, then the environment (DISCORD_TOKEN, DISCORD_API_URL), then the file, then the defaults. A bad file is a
// one-line usage error (exit 2) naming it, with no stack trace and nothing of its content (it may hold a token).

import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import t from 'tap';
import { singleChannel } from '../../fixtures/scenarios.js';
import { listFiles } from '../helpers/harness.js';
import { fakeFor, firstTarget, ofEvent, runDps, stackLines } from './helpers.js';

function world() {
  return singleChannel({ seed: 31, messages: 30, gapRate: 0, imageRatio: 0.6, otherRatio: 0.4, sizes: [300, 2_000] });
}

const write = (path: string, value: unknown): void => writeFileSync(path, typeof value === 'string' ? value : JSON.stringify(value, null, 2), { mode: 0o600 });

t.test('dps.config.json in the working directory sets --types and --out; a flag overrides it', async (t) => {
  const fake = await fakeFor(t, { scenario: world() });
  const { G, C } = firstTarget(fake);
  const dir = t.testdir();
  write(join(dir, 'dps.config.json'), { 'server-id': G, channelId: [C], api: fake.api, out: 'from-config', state: 'state', types: 'all', pathPattern: 'flat' });
  const all = [...fake.expected({ channelId: C })];
  const images = all.filter((x) => (x.content_type ?? '').startsWith('image/'));
  t.ok(images.length > 0 && images.length < all.length, `images (${images.length}) and other files (${all.length})`);

  const run = await runDps([], { cwd: dir, env: { DISCORD_TOKEN: fake.token } });
  t.equal(run.code, 0, `exit 0 (stderr: ${run.stderr})`);
  t.equal(run.lines.filter(ofEvent('saved')).length, all.length, 'types "all" from the file: every file, not only images');
  const files = await listFiles(join(dir, 'from-config'));
  t.equal(files.length, all.length, '--out from the file (relative to the working directory)');
  t.ok(
    files.every((f) => f.startsWith(`flat${sep}`)),
    'a camelCase key (pathPattern) works too',
  );

  const flags = ['--types', 'png', '--out', 'from-flag', '--state', 'state-2'];
  const overridden = await runDps(flags, { cwd: dir, env: { DISCORD_TOKEN: fake.token } });
  t.equal(overridden.code, 0, `exit 0 (stderr: ${overridden.stderr})`);
  const pngs = all.filter((x) => x.content_type === 'image/png');
  t.equal(overridden.lines.filter(ofEvent('saved')).length, pngs.length, '--types png on the command line beats the file');
  t.equal((await listFiles(join(dir, 'from-flag'))).length, pngs.length, '--out on the command line beats the file');
});

t.test('--config FILE; the environment beats the file for the token and the API URL', async (t) => {
  const fake = await fakeFor(t, { scenario: world() });
  const { G, C } = firstTarget(fake);
  const dir = t.testdir();
  const config = join(dir, 'settings.json');
  write(config, { 'server-id': G, 'channel-id': [C], token: 'not-the-token', api: 'http://127.0.0.1:9/api/v10', types: 'all', state: join(dir, 'state') });
  const all = [...fake.expected({ channelId: C })].length;

  const env = await runDps(['--config', config, '--out', join(dir, 'a')], { env: { DISCORD_TOKEN: fake.token, DISCORD_API_URL: fake.api } });
  t.equal(env.code, 0, `DISCORD_TOKEN and DISCORD_API_URL win over the file (stderr: ${env.stderr})`);
  t.equal((await listFiles(join(dir, 'a'))).length, all, 'every file saved');
  t.notOk(env.stderr.includes('not-the-token'), "the file's token is never printed");

  write(config, { 'server-id': G, 'channel-id': [C], token: fake.token, api: fake.api, types: 'all', state: join(dir, 'state-2') });
  const fromFile = await runDps(['--config', config, '--out', join(dir, 'b')], { cwd: dir });
  t.equal(fromFile.code, 0, `without the environment, the file's token and API URL are used (stderr: ${fromFile.stderr})`);
  t.equal((await listFiles(join(dir, 'b'))).length, all);
  t.notMatch(fromFile.stderr, /other users can read it/, 'mode 600: no warning');
  t.notOk(fromFile.stderr.includes(fake.token), 'the token is never printed');

  chmodSync(config, 0o644);
  const readable = await runDps(['--config', config, '--out', join(dir, 'b')], { cwd: dir });
  t.equal(readable.code, 0);
  t.match(readable.stderr, /warning: .*settings\.json holds a token and other users can read it \(chmod 600/, 'a token in a readable file: warned');

  const flag = await runDps(['--config', config, '--out', join(dir, 'c'), '--token', 'bad-flag-token'], { cwd: dir, env: { DISCORD_TOKEN: fake.token } });
  t.equal(flag.code, 3, `--token on the command line beats the environment and the file (exit 3, auth) (stderr: ${flag.stderr})`);
});

t.test('a config file with flags of other commands: each command takes its own', async (t) => {
  const fake = await fakeFor(t, { scenario: world() });
  const { G, C } = firstTarget(fake);
  const dir = t.testdir();
  write(join(dir, 'dps.config.json'), { 'server-id': G, 'channel-id': [C], api: fake.api, out: 'out', state: 'my-state', types: 'all' });
  const scrape = await runDps([], { cwd: dir, env: { DISCORD_TOKEN: fake.token } });
  t.equal(scrape.code, 0, scrape.stderr);
  const manifest = await runDps(['manifest'], { cwd: dir });
  t.equal(manifest.code, 0, `manifest ignores out and types, reads state from the file (stderr: ${manifest.stderr})`);
  t.equal(manifest.lines.length, [...fake.expected({ channelId: C })].length, 'every record of my-state');
  t.ok(
    manifest.lines.every((r) => relative(dir, String(r.path)).startsWith(`out${sep}`)),
    'paths under the configured out',
  );
  write(join(dir, 'dps.config.json'), { 'server-id': G, 'channel-id': [C, '123456789012345678'], api: fake.api, state: 'my-state' });
  const two = await runDps(['manifest'], { cwd: dir });
  t.equal(two.code, 2, 'two channels for a command that takes one: exit 2');
  t.match(two.stderr, /"channel-id" must be one string \(this command takes one value\)/);
  const retry = await runDps(['retry-failed'], { cwd: dir, env: { DISCORD_TOKEN: fake.token } });
  t.equal(retry.code, 0, `retry-failed's required --server-id comes from the file (stderr: ${retry.stderr})`);
});

t.test('a bad config file: exit 2, one line naming the file, no stack, nothing of its content', async (t) => {
  const fake = await fakeFor(t, { scenario: world() });
  const { G, C } = firstTarget(fake);
  const dir = t.testdir();
  const cases: Array<[string, string | undefined, string[], RegExp]> = [
    ['missing --config', undefined, ['--config', 'nowhere.json'], /cannot read the config file nowhere\.json: no such file/],
    ['a folder', undefined, ['--config', '<cwd>'], /cannot read the config file .*: it is a folder/],
    [
      'invalid JSON',
      '{\n  "out": "x",\n  "token": "SECRET-TOKEN" "types": "all"\n}',
      [],
      /dps\.config\.json is not valid JSON: unexpected character at line 3, column 27/,
    ],
    ['cut short', '{"out": "x", ', [], /dps\.config\.json is not valid JSON: it ends too early at line 1, column 14/],
    ['empty', '', [], /dps\.config\.json is not valid JSON/],
    ['an array', '["--out", "x"]', [], /dps\.config\.json must hold one JSON object of flags.*it holds an array/],
    ['null', 'null', [], /it holds null/],
    ['a string', '"out=x"', [], /it holds a string/],
    ['an unknown key', '{"out": "x", "typess": "all"}', [], /dps\.config\.json has an unknown key "typess" \(did you mean "types"\?\)/],
    ['help', '{"help": true}', [], /unknown key "help"/],
    ['a config key', '{"config": "other.json"}', [], /unknown key "config"/],
    ['a boolean as text', '{"threads": "yes"}', [], /dps\.config\.json: "threads" must be true or false, got "yes"/],
    ['a number as text', '{"max-concurrency": "lots"}', [], /--max-concurrency must be an integer from 1 to 256, got "lots"/],
    ['an object', '{"out": {"dir": "x"}}', [], /"out" must be a string, got \{"dir":"x"\}/],
    ['a bad choice', '{"token-type": "robot"}', [], /"token-type" must be one of "bot", "user", got "robot"/],
    ['a token that is not a string', '{"token": 12345}', [], /"token" must be a string$/],
    ['twice', '{"max-size": "1MB", "maxSize": "2MB"}', [], /sets "max-size" twice/],
    // An id as a JSON number loses its last digits (584174381563908106 reads as 584174381563908096): another channel, or author.
    [
      'an id as a number in a list',
      '{"exclude-channel": [584174381563908106]}',
      [],
      /"exclude-channel" holds a number too long for JSON to keep exactly \(it reads as 584174381563908096\); write it as a string/,
    ],
    ['an id as a number', '{"author": 584174381563908106}', [], /"author" holds a number too long for JSON to keep exactly/],
  ];
  fake.resetLog();
  // In parallel (a few at a time), each in its own folder: every case starts a process.
  const check = async ([name, content, extra, message]: (typeof cases)[number], index: number): Promise<void> => {
    const cwd = join(dir, `case-${index}`);
    mkdirSync(cwd);
    write(join(cwd, 'dps.config.json'), content ?? { out: 'x' });
    const args = ['--server-id', G, '--channel-id', C, '--api', fake.api, ...extra.map((a) => a.replace('<cwd>', cwd))];
    const run = await runDps(args, { cwd, env: { DISCORD_TOKEN: fake.token } });
    t.equal(run.code, 2, `${name}: exit 2`);
    const lines = run.stderr.trim().split('\n');
    t.equal(lines.length, 1, `${name}: one line (${run.stderr})`);
    t.match(lines[0], message, name);
    t.same(stackLines(run.stderr), [], `${name}: no stack trace`);
    t.notOk(run.stderr.includes('SECRET-TOKEN'), `${name}: nothing of the file's content`);
  };
  for (let i = 0; i < cases.length; i += 6) await Promise.all(cases.slice(i, i + 6).map((c, j) => check(c, i + j)));
  t.equal(fake.requests.length, 0, 'no request');
  write(join(dir, 'dps.config.json'), '{"out": "x"');
  const help = await runDps(['--help'], { cwd: dir });
  t.equal(help.code, 0, '--help still works with a broken config file');
  t.match(help.stdout, /--config/, 'and describes --config');
});
