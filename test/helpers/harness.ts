// Test harness: the fake Discord on a free loopback port, the library run in-process or the built CLI
// spawned as a child, and helpers to compare an archive folder with the fake's expected set.

import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { readdir, readFile, lstat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { archive } from '../../lib/index.js';
import type { ArchiveOptions, DpsEvent } from '../../lib/index.js';
import type { ArchiveResult } from '../../lib/archive.js';

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const CLI = join(ROOT, 'bin', 'dps.js');

export interface RunOutput {
  result: ArchiveResult;
  events: DpsEvent[];
  logs: string[];
}

// Runs the library in-process, collecting events and logs.
export async function runLibrary(options: ArchiveOptions, signal?: AbortSignal): Promise<RunOutput> {
  const events: DpsEvent[] = [];
  const logs: string[] = [];
  const stdout = {
    write: (chunk: string) => {
      for (const line of chunk.split('\n').filter(Boolean)) events.push(JSON.parse(line));
      return true;
    },
    on: () => stdout,
    once: () => stdout,
    off: () => stdout,
  };
  const stderr = {
    write: (chunk: string) => {
      logs.push(chunk);
      return true;
    },
    on: () => stderr,
    once: () => stderr,
    off: () => stderr,
  };
  const io: Parameters<typeof archive>[1] = { stdout: stdout as never, stderr: stderr as never };
  if (signal) io.signal = signal;
  const result = await archive(options, io);
  return { result, events, logs };
}

export interface CliOutput {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  lines: Array<Record<string, unknown>>;
}

// Spawns `node bin/dps.js ...args` in `cwd` with a clean environment (PATH and HOME only) plus `env`.
export function spawnCli(args: string[], options: { env?: Record<string, string> | undefined; cwd: string }): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, [CLI, ...args], {
    cwd: options.cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

// Runs the built CLI (`node bin/dps.js ...`) to its end and collects its output.
export function runCli(
  args: string[],
  options: { env?: Record<string, string>; cwd?: string; input?: string; killAfter?: (line: string, child: ReturnType<typeof spawn>) => void } = {},
): Promise<CliOutput> {
  return new Promise((resolvePromise, reject) => {
    const child = spawnCli(args, { ...options, cwd: options.cwd ?? ROOT });
    let stdout = '';
    let stderr = '';
    let partial = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (!options.killAfter) return;
      partial += chunk;
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) options.killAfter(line, child);
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const lines = stdout
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      resolvePromise({ code, signal, stdout, stderr, lines });
    });
    child.stdin.end(options.input ?? '');
  });
}

// Every regular file under a folder (relative paths), recursively, without following symlinks.
export async function listFiles(dir: string, base = dir): Promise<string[]> {
  const out: string[] = [];
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(path, base)));
    else out.push(path.slice(base.length + 1));
  }
  return out.sort();
}

export async function sha256File(path: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(path))
    .digest('hex');
}

export async function inode(path: string): Promise<number> {
  return (await lstat(path)).ino;
}

// Collects an iterable that may be sync or async.
export async function collect<T>(source: Iterable<T> | AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const value of source) out.push(value);
  return out;
}
