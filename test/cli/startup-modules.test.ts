// Each command loads only what it uses (CLI start-up, issue 25): `dps --version`, `dps scrape --help` and a
// `dps gallery` with nothing new to decode never load the Discord client, the Gateway, the S3 SDK, sharp or
// undici; importing the library loads none of them either, and it still exports every name it exported before
// its heavy parts became loaded on first call. The packages are seen through a module loader hook in the real
// process (the hook also sees sharp when the first gallery does decode files: it is no blind spot).

import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import { demoScenario } from '../../fixtures/scenarios.js';
import { CLI, ROOT } from '../helpers/harness.js';
import { png } from '../helpers/images.js';
import { fakeFor, runDps } from './helpers.js';

// Packages a command that does not need them must not load (their import alone costs 0.1-1.3 s here).
const HEAVY = ['@discordjs/rest', '@discordjs/ws', '@aws-sdk/client-s3', '@aws-sdk/lib-storage', 'sharp', 'undici', 'ws', 'stream-chain'];

// The names lib/index.ts exported before (the library's API): each must still be there.
const EXPORTS =
  'ACCESS_CODES AbortedError AccessError ApiError AuthError DEFAULTS DEFAULT_NAME_PATTERN DEFAULT_SIMILAR_DISTANCE DiskFullError DownloadError ' +
  'DpsError ExitCode MANIFEST_COLUMNS MANIFEST_FORMATS OutputError OutputUnsafeError RateLimitWaitError S3Error STATS_BY StateDiskFullError ' +
  'StoreError UsageError archive channelSkipReason channels checkApiUrl createDownloadPool csvField estimateNote follow gallery guilds hasCode ' +
  'isDiscordApiHost isDiskFull isDiskFullError isDpsError isManifestFormat isSnowflake manifest manifestFormatter namePlaceholders oneLine ' +
  'outputErrorKind packageVersion parseDuration parseSize redact runArchive runFollow similar stats statsTable status terminalSafe tsvField wrapLines';

// A loader hook (registered with --import) that prints `LOADED <package>` on stderr for each module of a package.
function hookFiles(dir: string): string {
  writeFileSync(
    join(dir, 'hooks.mjs'),
    `export async function load(url, context, next) {
      const m = /\\/node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(url);
      if (m) process.stderr.write('LOADED ' + m[1] + '\\n');
      return next(url, context);
    }\n`,
  );
  const register = join(dir, 'register.mjs');
  writeFileSync(register, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)});\n`);
  return register;
}

// Runs node with the hook: its exit code, stdout, and the packages it loaded.
function run(register: string, args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string; loaded: Set<string> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', register, ...args], {
      cwd,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code) => {
      const loaded = new Set([...stderr.matchAll(/^LOADED (\S+)$/gm)].map((m) => m[1]!));
      resolve({ code, stdout, stderr: stderr.replace(/^LOADED \S+\n/gm, ''), loaded });
    });
  });
}

const heavyIn = (loaded: Set<string>): string[] => HEAVY.filter((name) => loaded.has(name));

t.test('dps --version and dps scrape --help load no heavy package', async (t) => {
  const dir = t.testdir();
  const register = hookFiles(dir);
  const version = await run(register, [CLI, '--version'], dir);
  t.equal(version.code, 0, version.stderr);
  t.match(version.stdout, /^\d+\.\d+\.\d+/);
  t.ok(version.loaded.has('yargs'), 'the hook sees packages (yargs parses the command line)');
  t.same(heavyIn(version.loaded), [], '--version');
  t.notOk(version.loaded.has('level'), '--version opens no state');
  const help = await run(register, [CLI, 'scrape', '--help'], dir);
  t.equal(help.code, 0, help.stderr);
  t.match(help.stdout, /--server-id/);
  t.same(heavyIn(help.loaded), [], 'scrape --help');
});

t.test('the library loads its heavy parts on first call, and exports every name it did', async (t) => {
  const dir = t.testdir();
  const register = hookFiles(dir);
  const index = pathToFileURL(join(ROOT, 'dist', 'lib', 'index.js')).href;
  const script = `const m = await import(${JSON.stringify(index)}); console.log(JSON.stringify(Object.keys(m).map((k) => [k, typeof m[k]])));`;
  const r = await run(register, ['--input-type=module', '-e', script], dir);
  t.equal(r.code, 0, r.stderr);
  t.same(heavyIn(r.loaded), [], 'importing lib/index.js');
  const exported = new Map(JSON.parse(r.stdout) as Array<[string, string]>);
  t.same(
    EXPORTS.split(' ').filter((name) => !exported.has(name)),
    [],
    'every earlier export is still there',
  );
  t.equal(exported.get('runArchive'), 'function');
  t.equal(exported.get('runFollow'), 'function');
});

t.test('dps gallery with nothing new to decode loads neither sharp nor Discord nor S3', async (t) => {
  const fake = await fakeFor(t, { scenario: demoScenario() });
  const guild = fake.scenario.guilds[0]!;
  const dir = t.testdir();
  const register = hookFiles(dir);
  const out = join(dir, 'out');
  const state = join(dir, 'state');
  const scrape = await runDps(['--server-id', guild.id, '--all-channels', '--api', fake.api, '--out', out, '--state', state], {
    env: { DISCORD_TOKEN: fake.token },
  });
  t.equal(scrape.code, 0, scrape.stderr);
  const records = (await runDps(['manifest', '--state', state])).lines.filter((r) => r.status === 'saved' && String(r.content_type).startsWith('image/'));
  for (const [i, record] of records.slice(0, 2).entries()) await writeFile(String(record.path), await png(900 + i, 200, 150));
  const args = [CLI, 'gallery', '--state', state, '--out', out];
  const first = await run(register, args, dir);
  t.equal(first.code, 0, first.stderr);
  t.match(first.stdout, /"thumbnails_made":[1-9]/, 'the first run makes thumbnails');
  t.ok(first.loaded.has('sharp'), 'and loads sharp (the hook sees it)');
  const second = await run(register, args, dir);
  t.equal(second.code, 0, second.stderr);
  t.match(second.stdout, /"thumbnails_made":0,/, 'the second run has nothing to decode');
  t.ok(second.loaded.has('level'), 'it reads the state');
  t.same(heavyIn(second.loaded), [], 'and loads no heavy package');
});
