// The seed plan's design as a peer (the peers and cdn scenarios): discord.py's history(oldest_first=True) with
// aiohttp downloads, N at once (bench/peers/discordpy_peer.py), or, where /usr/bin/python3 cannot import
// discord.py, the same design with aiohttp alone (bench/peers/aiohttp_peer.py).

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ROOT, runProcess } from './common.js';
import type { FakeInfo } from './common.js';

const PYTHON = '/usr/bin/python3';

export interface Peer {
  script: string; // path under the repository
  what: string; // e.g. "discord.py 2.2.2 + aiohttp 3.8.4"
}

export interface PeerRun {
  files: number;
  bytes: number;
  ms: number; // the peer's own clock: after login to the last file written
  mbPerSecond: number;
  wallMs: number; // spawn to exit, Python's start and imports included
}

// The last stdout line of `/usr/bin/python3 -c code`, or undefined when it fails.
async function python(code: string): Promise<string | undefined> {
  if (!existsSync(PYTHON)) return undefined;
  let last = '';
  const r = await runProcess(PYTHON, ['-c', code], {
    onSpawn: (child) => createInterface({ input: child.stdout! }).on('line', (line) => (last = line)),
  });
  return r.code === 0 ? last : undefined;
}

// The peer this machine can run, or undefined (neither discord.py nor aiohttp importable).
export async function findPeer(): Promise<Peer | undefined> {
  const both = await python('import discord, aiohttp; print(discord.__version__, aiohttp.__version__)');
  if (both !== undefined) {
    const [discord, aiohttp] = both.split(' ');
    return { script: 'bench/peers/discordpy_peer.py', what: `discord.py ${discord} + aiohttp ${aiohttp}` };
  }
  const aiohttp = await python('import aiohttp; print(aiohttp.__version__)');
  if (aiohttp !== undefined) return { script: 'bench/peers/aiohttp_peer.py', what: `aiohttp ${aiohttp} alone (discord.py not importable)` };
  return undefined;
}

// One run of the peer on the fake's first channel into `out`.
export async function runPeer(peer: Peer, fake: FakeInfo, out: string, concurrency: number): Promise<PeerRun> {
  let last = '';
  const r = await runProcess(PYTHON, [join(ROOT, peer.script), fake.api, fake.token, fake.channel_ids[0]!, out, String(concurrency)], {
    onSpawn: (child) => createInterface({ input: child.stdout! }).on('line', (line) => (last = line)),
  });
  if (r.code !== 0) throw new Error(`${peer.script} exited ${r.code}: ${r.stderr}`);
  return { ...(JSON.parse(last) as Omit<PeerRun, 'wallMs'>), wallMs: r.wallMs };
}
