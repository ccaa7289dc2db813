// The shared S3 server's lifetime (test/helpers/s3-server.ts): test files that ask at once get one server; it is
// gone when the run ends (tap's `after` script, s3-stop.ts) and when the run is killed with SIGKILL; without
// Ceph's packages an S3 test fails with the install command. tap itself cannot be nested here (a second runner
// in this project would wipe this run's .tap/ folder), so test/s3/fixtures/fake-runner.ts plays its part: test
// files as children with TAP=1, then the `after` script.

import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { alive } from '../helpers/s3-state.js';

const RUNNER = fileURLToPath(new URL('./fixtures/fake-runner.ts', import.meta.url));
const CLIENT = fileURLToPath(new URL('./fixtures/server-client.ts', import.meta.url));
const loader = process.execArgv.filter((arg) => arg.includes('@tapjs/typescript'));

interface ClientLine {
  pid: number;
  endpoint: string;
  pids: number[];
  dir: string;
}

// Every process whose command line names `dir` (the Ceph daemons run with -c <dir>/ceph/ceph.conf).
function processesNaming(dir: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(dir)) found.push(Number(entry));
    } catch {}
  }
  return found;
}

t.test('test files asking at once share one server, and it is gone when the run ends', async (t) => {
  const runner = spawn(process.execPath, [...loader, RUNNER, '2'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  runner.stdout.on('data', (chunk: Buffer) => (out += chunk));
  runner.stderr.on('data', (chunk: Buffer) => (err += chunk));
  const code = await new Promise((resolve) => runner.on('exit', resolve));
  t.equal(code, 0, 'the run passed', { stderr: err });
  // checked the moment the run has ended: nothing may linger
  const lines = out
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as ClientLine);
  t.equal(lines.length, 2);
  const [a, b] = lines as [ClientLine, ClientLine];
  t.equal(a.endpoint, b.endpoint, 'one endpoint');
  t.same(a.pids, b.pids, 'one supervisor and one set of daemons');
  t.equal(a.pids.length, 4, 'supervisor, mon, osd, rgw');
  t.same(a.pids.filter(alive), [], 'every process of the server has exited');
  t.same(processesNaming(a.dir), [], 'no process names its folder');
  t.notOk(existsSync(a.dir), 'its folder is removed');
  await t.rejects(fetch(a.endpoint), 'nothing answers at its endpoint');
});

t.test('a run killed with SIGKILL leaves no Ceph behind', async (t) => {
  const runner = spawn(process.execPath, [...loader, RUNNER, '1', 'hold'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<ClientLine>((resolve, reject) => {
    let out = '';
    runner.stdout.on('data', (chunk: Buffer) => {
      out += chunk;
      if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]!) as ClientLine);
    });
    runner.on('exit', (code) => reject(new Error(`the runner exited ${code} first`)));
  });
  t.teardown(() => {
    if (alive(line.pid)) process.kill(line.pid, 'SIGKILL'); // the test file, orphaned by the kill
  });
  t.same(line.pids.filter(alive), line.pids, 'the server runs while the run does');
  t.ok((await fetch(line.endpoint)).ok, 'and answers');
  runner.kill('SIGKILL');
  // the supervisor checks its owner every second; allow a loaded machine many times that
  const deadline = Date.now() + 30_000;
  while ((line.pids.some(alive) || existsSync(line.dir)) && Date.now() < deadline) await sleep(100);
  t.same(line.pids.filter(alive), [], 'every process of the server has exited');
  t.same(processesNaming(line.dir), [], 'no process names its folder');
  t.notOk(existsSync(line.dir), 'its folder is removed');
});

t.test('without Ceph installed an S3 test fails, naming the packages', async (t) => {
  const client = spawn(process.execPath, [...loader, CLIENT], { env: { ...process.env, TAP: '', PATH: '/nonexistent' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  client.stderr.on('data', (chunk: Buffer) => (err += chunk));
  const code = await new Promise((resolve) => client.on('exit', resolve));
  t.not(code, 0, 'it fails (no skip)');
  t.match(err, /apt-get install -y radosgw ceph-mon ceph-osd/, 'with the install command');
});
