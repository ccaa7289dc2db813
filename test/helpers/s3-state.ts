// Where the shared S3 server of a tap run keeps its state (s3-server.ts, s3-supervisor.ts, s3-stop.ts): small on
// purpose, since tap's `after` script loads it on every run.

import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// The process whose end ends the server: the tap runner for a test file (its parent), else the caller itself.
export function ownerPid(): number {
  return process.env.TAP === '1' ? process.ppid : process.pid;
}

// The folder a server owned by `owner` keeps its state in (supervisor.pid, server.json, error.txt, ceph/).
export function stateDir(owner = ownerPid()): string {
  return join(tmpdir(), `dps-s3-${owner}`);
}

// Whether `pid` runs. A zombie does not: an exited process whose parent is gone waits for pid 1 to reap it, which
// in some containers never happens.
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    // /proc/PID/stat: "pid (comm) state ...", comm may hold spaces and parentheses
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc: kill(0) is all there is
  }
}

// Whether `pid` is still one of ours (its command line names the supervisor or a Ceph daemon), not a reused pid.
export function ours(pid: number): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return /s3-supervisor|ceph-mon|ceph-osd|radosgw/.test(cmdline);
  } catch {
    return false;
  }
}
