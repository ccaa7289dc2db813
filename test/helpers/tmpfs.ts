// A small tmpfs for full-disk tests (needs root; tests skip when it cannot be mounted).
import { execFileSync } from 'node:child_process';

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
