// The S3 server every S3 test file shares (issue 26): one Ceph RGW (fixtures/s3-ceph.ts) per tap run, started by
// the first test file that asks for it and stopped when the run ends. tap runs each file in its own process, so
// the server lives in a supervisor process (test/helpers/s3-supervisor.ts) that the first caller spawns; the
// others find it through a folder named after the tap runner's pid. The supervisor stops Ceph when the runner
// exits (checked every second, so also after a kill -9 or Ctrl-C), on SIGTERM from tap's `after` script
// (test/helpers/s3-stop.ts, so nothing is left when `npm test` returns), and its daemons die with it (setpriv
// --pdeathsig). Ceph missing fails the test loudly with the install command: S3 tests never skip.

import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import type { S3ClientConfig } from '@aws-sdk/client-s3';
import { assertCephInstalled } from '../../fixtures/s3-ceph.js';
import { alive, ownerPid, stateDir } from './s3-state.js';

export interface S3ServerInfo {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  conf: string; // the cluster's ceph.conf, for radosgw-admin
  pids: number[]; // the supervisor, then mon, osd, rgw
}

export interface S3Server extends S3ServerInfo {
  // The SDK settings this RGW needs: path-style URLs, and checksums only where an operation requires them (the
  // SDK's default aws-chunked trailers get 411 from RGW 16). `overrides` win (e.g. wrong credentials).
  config(overrides?: S3ClientConfig): S3ClientConfig;
  client(overrides?: S3ClientConfig): S3Client;
  // The environment a spawned `dps --out s3://...` needs to reach this server through the standard AWS chain.
  env(): Record<string, string>;
  // Creates the bucket and returns its name; the server is shared by every S3 test file, so take names from
  // bucketName() (a taken name fails).
  createBucket(name: string): Promise<string>;
  // radosgw-admin on this cluster, e.g. ['quota', 'set', '--quota-scope=user', '--uid=dps-test', '--max-size=1M'].
  admin(args: string[]): Promise<string>;
  // Lets go of the shared server; it keeps running for the other files and stops when the tap run ends.
  stop(): Promise<void>;
}

// A valid bucket name (3-63 lowercase letters, digits, hyphens) unique to this call.
export function bucketName(label = 'dps'): string {
  const clean = label
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40);
  return `${clean || 'dps'}-${randomBytes(6).toString('hex')}`;
}

const SUPERVISOR = fileURLToPath(new URL('./s3-supervisor.ts', import.meta.url));
const START_TIMEOUT_MS = 240_000; // two Ceph starts (the retry) on a loaded machine

const readPid = (dir: string): number | undefined => {
  try {
    const pid = Number(readFileSync(join(dir, 'supervisor.pid'), 'utf8'));
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
};

// tap's TypeScript loader from this process's flags, for the supervisor (a .ts file) to run with.
function tsLoader(): string[] {
  const loader = process.execArgv.filter((arg) => arg.includes('@tapjs/typescript'));
  if (loader.length === 0) throw new Error('s3Server() runs under tap (it needs tap’s TypeScript loader for its supervisor)');
  return loader;
}

function spawnSupervisor(dir: string, owner: number): void {
  const log = openSync(join(dir, 'supervisor.log'), 'a');
  const child = spawn(process.execPath, [...tsLoader(), SUPERVISOR, dir, String(owner)], { detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  child.unref();
}

async function waitForServer(dir: string): Promise<S3ServerInfo> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (existsSync(join(dir, 'server.json'))) return JSON.parse(readFileSync(join(dir, 'server.json'), 'utf8')) as S3ServerInfo;
    if (existsSync(join(dir, 'error.txt'))) throw new Error(`S3 server failed to start: ${readFileSync(join(dir, 'error.txt'), 'utf8').trim()}`);
    const pid = readPid(dir);
    if (pid !== undefined && !alive(pid)) {
      let tail = '';
      try {
        tail = readFileSync(join(dir, 'supervisor.log'), 'utf8').trim().split('\n').slice(-5).join(' | ');
      } catch {}
      throw new Error(`S3 server's supervisor (pid ${pid}) died before the server was up: ${tail}`);
    }
    if (Date.now() > deadline) throw new Error(`S3 server not up after ${START_TIMEOUT_MS / 1000} s (see ${dir})`);
    await sleep(100);
  }
}

// Finds this tap run's server, starting it if no test file has yet.
async function attach(): Promise<S3ServerInfo> {
  assertCephInstalled();
  const owner = ownerPid();
  const dir = stateDir(owner);
  for (let attempt = 0; ; attempt++) {
    try {
      mkdirSync(dir); // the lock: one caller per run creates the folder and spawns the supervisor
      spawnSupervisor(dir, owner);
      return await waitForServer(dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    // Another file started it, or a dead run (its pid now reused) left the folder: a dead supervisor's folder goes.
    const pid = readPid(dir);
    if (pid !== undefined && !alive(pid) && attempt === 0) {
      rmSync(dir, { recursive: true, force: true });
      continue;
    }
    return await waitForServer(dir);
  }
}

// The shared S3 server of this tap run (started on first use).
export async function s3Server(): Promise<S3Server> {
  const info = await attach();
  const config = (overrides: S3ClientConfig = {}): S3ClientConfig => ({
    endpoint: info.endpoint,
    region: info.region,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    credentials: { accessKeyId: info.accessKeyId, secretAccessKey: info.secretAccessKey },
    ...overrides,
  });
  return {
    ...info,
    config,
    client: (overrides) => new S3Client(config(overrides)),
    env: () => ({
      AWS_ACCESS_KEY_ID: info.accessKeyId,
      AWS_SECRET_ACCESS_KEY: info.secretAccessKey,
      AWS_REGION: info.region,
      AWS_ENDPOINT_URL_S3: info.endpoint,
    }),
    createBucket: async (name) => {
      const client = new S3Client(config());
      try {
        // RGW (like us-east-1) answers 200 to creating a bucket one already owns: look first
        const taken = await client.send(new HeadBucketCommand({ Bucket: name })).then(
          () => true,
          (error: Error) => (error.name === 'NotFound' || error.name === 'NoSuchBucket' ? false : Promise.reject(error)),
        );
        if (taken) throw new Error(`bucket ${name} already exists on the shared S3 server: take names from bucketName()`);
        await client.send(new CreateBucketCommand({ Bucket: name }));
      } finally {
        client.destroy();
      }
      return name;
    },
    admin: (args) =>
      new Promise((resolve, reject) => {
        execFile('radosgw-admin', ['-c', info.conf, '-n', 'client.admin', ...args], { timeout: 60_000 }, (error, stdout, stderr) => {
          if (error) reject(new Error(`radosgw-admin ${args.join(' ')}: ${stderr.trim() || error.message}`));
          else resolve(stdout);
        });
      }),
    stop: async () => {},
  };
}
