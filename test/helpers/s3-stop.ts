// tap's `after` script (.taprc): stops this run's shared S3 server, if a test file started one, and waits until
// its supervisor and Ceph daemons are gone, so nothing of ours is running when `npm test` returns. tap runs it
// as a child of the runner, whose pid names the server's folder (s3-server.ts).

import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { alive, ours, stateDir } from './s3-state.js';

const dir = stateDir(process.ppid);
let pids: number[] = [];
try {
  pids.push(Number(readFileSync(join(dir, 'supervisor.pid'), 'utf8')));
  pids.push(...(JSON.parse(readFileSync(join(dir, 'server.json'), 'utf8')) as { pids: number[] }).pids);
} catch {}
pids = [...new Set(pids.filter((pid) => Number.isInteger(pid) && pid > 0 && ours(pid)))];
if (pids[0] !== undefined) process.kill(pids[0], 'SIGTERM');
const deadline = Date.now() + 30_000;
const running = (pid: number): boolean => alive(pid) && ours(pid);
while (pids.some(running) && Date.now() < deadline) await sleep(50);
for (const pid of pids.filter(running)) process.kill(pid, 'SIGKILL'); // the supervisor's daemons die with it
rmSync(dir, { recursive: true, force: true });
if (pids.length > 0) process.stderr.write(`s3-stop: stopped this run's S3 server (pids ${pids.join(', ')})\n`);
