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

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
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
