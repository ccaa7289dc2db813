// The version `dps --version` prints, read from dps's own package.json. yargs would guess it from the first
// package.json above the node_modules folder it is installed in: the host project's, when dps is a dependency.

import { readFileSync } from 'node:fs';

export function packageVersion(): string {
  // Compiled to dist/bin/, the package root is two levels up (one when run from bin/ by a TypeScript loader).
  for (const relative of ['../../package.json', '../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(relative, import.meta.url), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'discord-photo-scraper' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not there: try the next candidate
    }
  }
  return 'unknown';
}
