// A small tmpfs for full-disk tests (needs root; tests skip when it cannot be mounted).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';

// Mounts a tmpfs of `size` (e.g. '2m') on `dir`; false when that is not allowed here.
export function mountTmpfs(dir: string, size: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function unmountTmpfs(dir: string): void {
  execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
}

// A fresh folder `<tmp>/<prefix>XXXX/<name>` with a tmpfs of `size` mounted on it, unmounted and removed when
// `t` ends: the folder and its parent, or undefined (the test is recorded as skipped) where mounting is not
// allowed here.
export function tmpfsFolder(t: Test, prefix: string, name: string, size: string): { dir: string; mount: string } | undefined {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const mount = join(dir, name);
  mkdirSync(mount);
  const mounted = mountTmpfs(mount, size);
  t.teardown(() => {
    if (mounted) unmountTmpfs(mount);
    rmSync(dir, { recursive: true, force: true });
  });
  if (mounted) return { dir, mount };
  t.pass('skipped: cannot mount a tmpfs here (needs root)', { skip: true });
  return undefined;
}
