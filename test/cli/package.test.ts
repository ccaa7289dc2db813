// The package as users install it: package.json builds dist/ on `npm ci`, git installs and `npm pack`
// (prepare, prepack); the tarball ships the built CLI and library (no benchmarks, tests or sources) and a
// LICENSE; installed from the tarball into a fresh prefix, `dps --help` and `dps demo` work from its bin.
// The project is packed with --ignore-scripts: `npm test` has just built dist/, and a prepack rebuild here
// would rewrite dist/ under the CLI tests running beside this one.

import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { listFiles, ROOT, sha256File } from '../helpers/harness.js';
import { rawLines, schemaProblems } from './helpers.js';
import type { Line } from './helpers.js';

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

// The environment without the npm_* variables of the `npm test` running this file (they would configure the
// npm spawned here: its prefix, its global flag, its cache).
const cleanEnv = (): NodeJS.ProcessEnv => Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key)));

function run(command: string, args: string[], cwd: string): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

// Installs from the npm cache when it can: the registry is only asked for what the cache lacks.
const INSTALL = ['--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'];

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
  license: string;
  scripts: Record<string, string>;
  files: string[];
};

t.test('package.json builds on install and on pack, and ships a LICENSE', async (t) => {
  t.match(pkg.scripts.prepare, /npm run build/, 'prepare builds (npm ci, npm install <git url>, npm link)');
  t.match(pkg.scripts.prepack, /npm run build/, 'prepack builds (npm pack, npm publish)');
  t.equal(pkg.license, 'MIT');
  const license = readFileSync(join(ROOT, 'LICENSE'), 'utf8');
  t.match(license, /^MIT License/, 'LICENSE is the MIT license');
  t.match(license, /Copyright \(c\) \d{4} discord-photo-scraper contributors/);
  t.match(readFileSync(join(ROOT, 'tsconfig.build.json'), 'utf8'), /"noEmit": false/, 'the build config emits');
});

t.test('npm pack + npm install -g <tarball>: dps --help and dps demo work from the prefix', async (t) => {
  t.ok(existsSync(join(ROOT, 'dist', 'bin', 'cli.js')), 'dist/ is built (npm test builds it before the tests)');
  const dir = t.testdir();

  const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], ROOT);
  t.equal(packed.code, 0, `npm pack exit 0 (${packed.stderr.trim()})`);
  const [info] = JSON.parse(packed.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  const files = info!.files.map((f) => f.path).sort();
  for (const want of [
    'LICENSE',
    'README.md',
    'package.json',
    'bin/dps.js',
    'dist/bin/cli.js',
    'dist/bin/heap-tuning.js',
    'dist/bin/demo.js',
    'dist/lib/index.js',
    'dist/lib/index.d.ts',
    'dist/fixtures/fake-discord.js',
  ]) {
    t.ok(files.includes(want), `ships ${want}`);
  }
  t.same(
    files.filter((f) => /^(dist\/)?(bench|test)\//.test(f)),
    [],
    'no benchmarks and no tests',
  );
  t.same(
    files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')),
    [],
    'no TypeScript sources',
  );
  const built = (await listFiles(join(ROOT, 'dist'))).filter((f) => /^(bin|lib|fixtures)\/.*\.js$/.test(f));
  t.same(
    built.filter((f) => !files.includes(`dist/${f}`)),
    [],
    'every built module of the CLI and library is shipped',
  );

  // Installed globally into a fresh prefix, as a user would with `npm install -g <tarball>`.
  const prefix = join(dir, 'prefix');
  const tarball = join(dir, info!.filename);
  const installed = await run('npm', ['install', '-g', '--prefix', prefix, ...INSTALL, tarball], dir);
  t.equal(installed.code, 0, `npm install -g exit 0 (${installed.stderr.trim()})`);
  const dps = join(prefix, 'bin', 'dps');
  t.ok(existsSync(dps), 'the prefix has bin/dps');
  t.ok(existsSync(join(prefix, 'bin', 'discord-photo-scraper')), 'and bin/discord-photo-scraper');

  const work = join(dir, 'work');
  mkdirSync(work);
  const help = await run(dps, ['--help'], work);
  t.equal(help.code, 0, `dps --help exit 0 (${help.stderr.trim()})`);
  t.match(help.stdout, /retry-failed/, 'the help lists the commands');
  t.equal(help.stderr, '', 'nothing on stderr');

  const out = join(dir, 'X');
  const state = join(dir, 'Y');
  const demo = await run(dps, ['demo', '--out', out, '--state', state], work);
  t.equal(demo.code, 0, `dps demo exit 0 (${demo.stderr.trim().split('\n').at(-1)})`);
  const lines = rawLines(demo.stdout);
  t.same(
    lines.flatMap((l) => schemaProblems(l)),
    [],
    'the demo prints documented events',
  );
  const events = lines.filter((l): l is Line => l !== null);
  const saved = events.filter((e) => e.event === 'saved');
  const summary = events.at(-1);
  t.equal(summary?.event, 'summary');
  t.equal(summary?.failed, 0, 'nothing failed');
  t.ok(saved.length >= 50, `the demo saved ${saved.length} files`);
  const onDisk = await listFiles(out);
  t.same(onDisk, saved.map((e) => relative(out, String(e.path))).sort(), 'the files on disk are exactly the saved ones');
  const wrong: string[] = [];
  for (const event of saved) if ((await sha256File(String(event.path))) !== event.sha256) wrong.push(String(event.path));
  t.same(wrong, [], 'every file holds the bytes its event announced');
  t.ok(existsSync(join(state, 'CURRENT')), 'the state is where --state says');
  t.same(await listFiles(work), [], 'nothing written to the working directory');

  // Installed as a dependency of another project (where `npx dps` runs it): --version is dps's own.
  const project = join(dir, 'project');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'host-project', version: '9.9.9', private: true }));
  const local = await run('npm', ['install', ...INSTALL, tarball], project);
  t.equal(local.code, 0, `npm install <tarball> exit 0 (${local.stderr.trim()})`);
  const version = await run(join(project, 'node_modules', '.bin', 'dps'), ['--version'], project);
  t.equal(version.stdout.trim(), pkg.version, `dps --version prints dps's version (${pkg.version}), not the host project's`);
});
