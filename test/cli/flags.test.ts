// Every flag that takes a value, of every command, refused with a bad value (and with none): exit 2, one stderr
// line, the flag named as --kebab-case, the value shown as typed, never NaN, never an internal camelCase name.
// The flags are read from each command's --help, so a flag added later is attacked too: one without an entry in
// BAD (bad values) or FREE_TEXT (any text is valid: only a missing value is refused) fails the test.
// Typos get a did-you-mean.

import t from 'tap';
import type { Test } from 'tap';
import { join } from 'node:path';
import { runDps, stackLines, stderrLines } from './helpers.js';
import type { Finished } from './helpers.js';

const G = '584171093229572103';
const C = '584172099862532107';
// Nothing listens on the discard port: a value wrongly accepted fails fast with a network error (not exit 2).
const DEAD_API = 'http://127.0.0.1:9/api/v10';
const TOKEN = 'MTIzNDU2Nzg5MDEyMzQ1Njc4.AAAAAA.a-token-used-only-by-the-flags-test-xx';

// Values each flag must refuse (the message must show them).
const BAD: Record<string, string[]> = {
  'server-id': ['12x'],
  'channel-id': ['abc'],
  'exclude-channel': ['general'],
  'token-type': ['robot'],
  api: ['ftp://example.com/api'],
  'max-size': ['lots', '-5MB'],
  after: ['yesterday'],
  before: ['someday'],
  'name-pattern': ['{nope}'],
  concurrency: ['1.5'],
  'max-concurrency': ['abc', '1e3'], // NaN and 1000 as yargs' numbers once read them
  'channel-concurrency': ['many'],
  'max-channel-concurrency': ['-2'],
  'global-rate-limit': ['x', '-1'],
  'max-wait': ['forever'],
  timeout: ['soon'],
  notify: ['nope'],
  by: ['week'],
  format: ['xml'],
  // issue 23's other flags (bad whatever their exact syntax)
  author: ['alice'],
  'exclude-author': ['bob'],
  'min-size': ['big'],
  'min-width': ['wide'],
  'min-height': ['tall'],
  spoilers: ['maybe'],
  'progress-interval': ['often'],
  'path-pattern': ['{nope}'],
};
// Flags any non-empty text is valid for: only a missing value is refused.
const FREE_TEXT = new Set(['out', 'state', 'token', 'types', 'config', 'write-metadata']);
// Flags that may stand alone (`--write-metadata` or `--write-metadata=channel`: bin/flag-check.ts OPTIONAL_VALUE).
const OPTIONAL_VALUE = new Set(['write-metadata']);

// The flags of a command's --help that take a value (not booleans), by long name.
function valueFlags(help: string): string[] {
  const flags: string[] = [];
  let current: { name: string; text: string } | undefined;
  const finish = (): void => {
    if (current && !/\[boolean\]/.test(current.text) && current.name !== 'help' && current.name !== 'version') flags.push(current.name);
  };
  for (const line of help.split('\n')) {
    if (/^Examples:/.test(line)) break;
    const m = /^\s{1,8}(?:-\w, )?--([a-z][a-z0-9-]*)\b(.*)$/.exec(line);
    if (m) {
      finish();
      current = { name: m[1]!, text: m[2]! };
    } else if (current && /^\s{6,}\S/.test(line)) current.text += line;
    else {
      finish();
      current = undefined;
    }
  }
  finish();
  return flags;
}

// The arguments a command runs with: valid, so the only problem is the flag under test.
function baseArgs(command: string, dir: string): Record<string, string> {
  const paths = { out: join(dir, 'out'), state: join(dir, 'no-state-here') };
  switch (command) {
    case 'scrape':
      return { 'server-id': G, 'channel-id': C, api: DEAD_API, backoff: '1', ...paths };
    case 'retry-failed':
      return { 'server-id': G, api: DEAD_API, backoff: '1', ...paths };
    case 'guilds':
      return { api: DEAD_API, backoff: '1' };
    case 'channels':
      return { 'server-id': G, api: DEAD_API, backoff: '1' };
    case 'demo':
      return paths;
    default:
      return { state: paths.state };
  }
}

function argsFor(command: string, dir: string, flag: string, value: string | undefined): string[] {
  const base = baseArgs(command, dir);
  delete base[flag];
  const args = [command, ...Object.entries(base).flatMap(([k, v]) => [`--${k}`, v])];
  if (value === undefined) return [...args, `--${flag}`];
  // yargs reads `-5MB` after a flag as short flags, as a shell user would learn: a value starting with a dash is
  // given as --flag=value.
  return value.startsWith('-') ? [...args, `--${flag}=${value}`] : [...args, `--${flag}`, value];
}

// The one line of a refused command line, checked for shape.
function refused(t: Test, run: Finished, what: string, typed = ''): string {
  const lines = stderrLines(run.stderr);
  t.equal(run.code, 2, `${what}: exit 2 (stderr: ${run.stderr.trim()})`);
  t.equal(lines.length, 1, `${what}: one stderr line`);
  t.same(stackLines(run.stderr), [], `${what}: no stack trace`);
  const line = lines[0] ?? '';
  t.notMatch(line, /NaN/, `${what}: no NaN`);
  t.notMatch(line.replace(typed, ''), /\b[a-z]+[A-Z][A-Za-z]*\b/, `${what}: no camelCase name (but what was typed)`);
  t.equal(run.stdout, '', `${what}: nothing on stdout`);
  return line;
}

// Runs `jobs` at a time (the machine is shared).
async function pool<T>(items: readonly T[], jobs: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: jobs }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

const COMMANDS = ['scrape', 'retry-failed', 'guilds', 'channels', 'manifest', 'status', 'stats', 'demo'];
// dps gallery, dps similar (issue 25); scrape's --gallery-dir is any folder.
COMMANDS.push('gallery', 'similar');
BAD.distance = ['x', '65', '-1'];
FREE_TEXT.add('gallery-dir');
// Object storage (issue 26): tried with a folder --out, each is refused showing the value; the region is any text.
Object.assign(BAD, { 's3-endpoint': ['ftp://host', 'nope'], 's3-part-size': ['1MB', 'lots'] });
FREE_TEXT.add('s3-region');

t.test('every flag of every command refuses a bad or missing value', async (t) => {
  const dir = t.testdir();
  const cases: Array<{ command: string; flag: string; value: string | undefined }> = [];
  // Commands share their flags' checks (scrape's builder is retry-failed's, the connection flags are everyone's):
  // each flag and value is tried once, on the first command that has it, except the ids, checked per command.
  const tried = new Set<string>();
  const once = (command: string, flag: string, value: string | undefined): void => {
    const key = flag.endsWith('-id') ? `${command} ${flag} ${value}` : `${flag} ${value}`;
    if (!tried.has(key)) cases.push({ command, flag, value });
    tried.add(key);
  };
  for (const command of COMMANDS) {
    const help = await runDps([command, '--help']);
    t.equal(help.code, 0, `${command} --help`);
    const flags = valueFlags(help.stdout);
    t.ok(flags.length > 0, `${command} has flags that take a value: ${flags.join(' ')}`);
    for (const flag of flags) {
      t.ok(BAD[flag] !== undefined || FREE_TEXT.has(flag), `--${flag} (${command}) has bad values to try in BAD, or is FREE_TEXT`);
      if (!OPTIONAL_VALUE.has(flag)) once(command, flag, undefined);
      for (const value of BAD[flag] ?? []) once(command, flag, value);
    }
  }
  t.ok(cases.length > 50, `${cases.length} command lines`);
  await pool(cases, 4, async ({ command, flag, value }) => {
    const run = await runDps(argsFor(command, dir, flag, value), { env: { DISCORD_TOKEN: TOKEN } });
    const what = `${command} --${flag} ${value === undefined ? '(no value)' : JSON.stringify(value)}`;
    const line = refused(t, run, what);
    // The name patterns' own check names the pattern in words (lib/fs/safe-name.ts, shared by both patterns).
    const named = line.includes(`--${flag}`) || (flag.endsWith('-pattern') && value !== undefined && line.includes(flag.replace('-', ' ')));
    t.ok(named, `${what}: names --${flag}: ${line}`);
    if (value === undefined) t.match(line, /needs a value/, `${what}: says a value is missing`);
    else t.ok(line.includes(value), `${what}: shows the value typed: ${line}`);
    t.notOk(run.stderr.includes(TOKEN), `${what}: the token is not printed`);
  });
});

t.test('an empty value is refused, not replaced by the default', async (t) => {
  for (const args of [
    ['manifest', '--state', ''],
    ['manifest', '--state='],
    ['scrape', '--server-id', G, '--channel-id', C, '--out', ''],
  ]) {
    const run = await runDps(args, { env: { DISCORD_TOKEN: TOKEN } });
    t.match(refused(t, run, args.join(' ')), /--(state|out) needs a value, got ""/);
  }
});

t.test('typos get a did-you-mean', async (t) => {
  const cases: Array<[string[], string]> = [
    [['scrape', '--chanel-id', '1'], 'dps: unknown flag --chanel-id; did you mean --channel-id? (see dps --help)'],
    [['--sever-id', G], 'dps: unknown flag --sever-id; did you mean --server-id? (see dps --help)'],
    [['scrape', '--chanelId', '1'], 'dps: unknown flag --chanelId; did you mean --channel-id? (see dps --help)'],
    [['retry-failed', '--server-id', G, '--max-concurency', '4'], 'dps: unknown flag --max-concurency; did you mean --max-concurrency? (see dps --help)'],
    [['manifest', '--serverid', G], 'dps: unknown flag --serverid; did you mean --server-id? (see dps --help)'],
    [['stats', '--bye', 'month'], 'dps: unknown flag --bye; did you mean --by? (see dps --help)'],
    [['scrap', '--server-id', G], 'dps: unknown command scrap; did you mean scrape? (see dps --help)'],
    [['manifets'], 'dps: unknown command manifets; did you mean manifest? (see dps --help)'],
    [['retry-faild'], 'dps: unknown command retry-faild; did you mean retry-failed? (see dps --help)'],
    [['scrape', '--frobnicate'], 'dps: unknown flag --frobnicate (see dps --help)'],
    [['stats', '--threads'], 'dps: unknown flag --threads (see dps --help)'],
    [['scrape', '--server-id', G, 'extra'], 'dps: unexpected argument "extra" (see dps --help)'],
    [['-x'], 'dps: unknown flag -x (see dps --help)'],
  ];
  await pool(cases, 4, async ([args, expected]) => {
    const run = await runDps(args, { env: { DISCORD_TOKEN: TOKEN } });
    t.equal(
      refused(
        t,
        run,
        args.join(' '),
        args.find((a) => /[A-Z]/.test(a)),
      ),
      expected,
      args.join(' '),
    );
  });
});

t.test("yargs' own checks are one line naming the --kebab flag", async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['channels'], /^dps: missing --server-id \(see dps --help\)$/],
    [['scrape', '--channel-id', C], /^dps: missing --server-id \(see dps --help\)$/],
    [['retry-failed'], /^dps: missing --server-id \(see dps --help\)$/],
    [['scrape', '--server-id', G, '--token-type', 'robot'], /^dps: --token-type must be bot or user, got "robot"/],
    [['stats', '--by', 'week'], /^dps: --by must be channel, author, month or type, got "week"/],
  ];
  await pool(cases, 4, async ([args, pattern]) => {
    const run = await runDps(args, { env: { DISCORD_TOKEN: TOKEN } });
    t.match(refused(t, run, args.join(' ')), pattern, args.join(' '));
  });
});

t.test('the forms yargs accepts stay accepted', async (t) => {
  // A value-taking flag's values, booleans with an explicit value, --no-<boolean>, a stdin dash and = forms.
  const dir = t.testdir();
  const run = await runDps(
    [
      'scrape',
      '--server-id',
      G,
      '--channel-id',
      C,
      '--channel-id=1234567890123456789',
      '--threads',
      'false',
      '--no-embeds',
      '--max-concurrency=8',
      '--api',
      DEAD_API,
      '--backoff',
      '1',
      '--state',
      join(dir, 's'),
      '--out',
      join(dir, 'o'),
    ],
    { env: { DISCORD_TOKEN: TOKEN } },
  );
  t.not(run.code, 2, `not a usage error: ${run.stderr}`);
  t.notMatch(run.stderr, /unknown|needs a value|unexpected/);
  // A command after a global flag, as yargs reads it.
  const late = await runDps(['--quiet', 'manifest', '--state', join(dir, 'none')]);
  t.equal(late.code, 5, `manifest ran (no state: exit 5): ${late.stderr}`);
});
