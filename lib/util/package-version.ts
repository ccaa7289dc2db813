// dps's version, read from its own package.json: what `dps --version` prints and what the User-Agent carries.
// (yargs would guess it from the first package.json above the node_modules folder dps is installed in: the host
// project's, when dps is a dependency.)

import { readFileSync } from 'node:fs';

let cached: string | undefined;

export function packageVersion(): string {
  cached ??= readVersion();
  return cached;
}

function readVersion(): string {
  // Compiled to dist/lib/util/, the package root is three levels up (two when run from lib/util/ by a TypeScript loader).
  for (const relative of ['../../../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(relative, import.meta.url), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'discord-photo-scraper' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not there: try the next candidate
    }
  }
  return 'unknown';
}
