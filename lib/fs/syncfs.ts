// Making many written files durable at once, and telling whether the machine restarted since. Node has no
// syncfs(2) nor sync(2): coreutils' `sync -f DIR` (Linux, coreutils >= 8.24) calls syncfs on DIR's file system,
// which writes back every dirty page and inode of that file system and flushes the device once, instead of an
// fsync per file. The boot id (Linux: /proc/sys/kernel/random/boot_id, new at every boot) tells a process that died
// (the page cache survived: what it wrote is still going to disk) from a machine that crashed or lost power (what
// was not synced may be lost). See docs/durability.md.

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { platform } from 'node:os';

// Runs syncfs on the file system holding `dir`; resolves true once it returned success, false where it cannot
// (not Linux, no `sync` with -f, an error): the caller then keeps fsyncing file by file. Never rejects.
export function syncFileSystem(dir: string, signal?: AbortSignal): Promise<boolean> {
  if (platform() !== 'linux') return Promise.resolve(false);
  return new Promise((resolve) => {
    try {
      const child = spawn('sync', ['-f', '--', dir], { stdio: 'ignore', signal });
      child.on('error', () => resolve(false));
      child.on('close', (code) => resolve(code === 0));
    } catch {
      resolve(false);
    }
  });
}

// This boot of the machine, or undefined where it cannot be told (then every unclean end is taken for a crash).
export function bootId(): string | undefined {
  if (platform() !== 'linux') return undefined;
  try {
    const id = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    return id === '' ? undefined : id;
  } catch {
    return undefined;
  }
}
