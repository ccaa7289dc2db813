// `node <tap's ts loader> s3-supervisor.ts STATE_DIR OWNER_PID`: owns the shared Ceph RGW of one tap run (see
// s3-server.ts). Writes supervisor.pid, then server.json once the server is up (or error.txt), and stops Ceph and
// removes STATE_DIR when OWNER_PID is gone or on SIGTERM/SIGINT/SIGHUP. Its daemons get SIGKILL if it dies.

import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CephS3, startCeph } from '../../fixtures/s3-ceph.js';
import { alive } from './s3-state.js';

const [dirArg, ownerArg] = process.argv.slice(2);
const owner = Number(ownerArg);
if (dirArg === undefined || !Number.isInteger(owner)) {
  process.stderr.write('usage: s3-supervisor.ts STATE_DIR OWNER_PID\n');
  process.exit(2);
}
const dir: string = dirArg;
writeFileSync(join(dir, 'supervisor.pid'), String(process.pid));

let ceph: CephS3 | undefined;
let stopping = false;
async function shutdown(why: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  process.stderr.write(`s3-supervisor: stopping (${why})\n`);
  await ceph?.stop();
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => void shutdown(signal));
setInterval(() => {
  if (!alive(owner)) void shutdown(`owner ${owner} exited`);
}, 1000);

try {
  ceph = await startCeph({ dir: join(dir, 'ceph') });
  const info = {
    endpoint: ceph.endpoint,
    accessKeyId: ceph.accessKeyId,
    secretAccessKey: ceph.secretAccessKey,
    region: ceph.region,
    conf: join(ceph.dir, 'ceph.conf'),
    pids: [process.pid, ...ceph.pids],
  };
  writeFileSync(join(dir, 'server.json.tmp'), JSON.stringify(info));
  renameSync(join(dir, 'server.json.tmp'), join(dir, 'server.json'));
  process.stderr.write(`s3-supervisor: up at ${ceph.endpoint}\n`);
} catch (error) {
  writeFileSync(join(dir, 'error.txt'), (error as Error).message);
  process.stderr.write(`s3-supervisor: ${(error as Error).message}\n`);
  // Stay until the owner ends so later files read error.txt instead of retrying a start that fails.
}
