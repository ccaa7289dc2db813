// The gallery page's own files (index.html, unpack.js, app.js, app.css), copied from the package's build of web/
// into the gallery folder; until that build exists, a minimal page that lists what the data files hold.

import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeAtomic } from './data-files.js';

export const PAGE_FILES = ['index.html', 'unpack.js', 'app.js', 'app.css'] as const;

// Where the built page may be: dist/web beside dist/lib when compiled; under the test runner (lib/ as .ts), the
// repository's dist/web.
function pageDirs(): string[] {
  const here = path.dirname(fileURLToPath(import.meta.url));
  return [path.resolve(here, '../../web'), path.resolve(here, '../../dist/web')];
}

// Copies the page into `galleryDir` (each file replaced atomically); says which source it used.
export async function writePage(galleryDir: string): Promise<'package' | 'placeholder'> {
  for (const dir of pageDirs()) {
    const complete = await Promise.all(
      PAGE_FILES.map((name) =>
        stat(path.join(dir, name)).then(
          (s) => s.isFile(),
          () => false,
        ),
      ),
    );
    if (!complete.every(Boolean)) continue;
    await mkdir(galleryDir, { recursive: true });
    for (const name of PAGE_FILES) {
      const source = await readFile(path.join(dir, name));
      if (await sameBytes(path.join(galleryDir, name), source)) continue; // a later run: already there
      const temp = path.join(galleryDir, `${name}.${randomBytes(6).toString('hex')}.tmp`);
      await writeFile(temp, source);
      await rename(temp, path.join(galleryDir, name));
    }
    return 'package';
  }
  await writeAtomic(path.join(galleryDir, 'index.html'), PLACEHOLDER_HTML);
  await writeAtomic(path.join(galleryDir, 'app.js'), PLACEHOLDER_JS);
  await writeAtomic(path.join(galleryDir, 'app.css'), PLACEHOLDER_CSS);
  return 'placeholder';
}

// Whether `file` holds exactly `bytes` (false when it is missing).
async function sameBytes(file: string, bytes: Buffer): Promise<boolean> {
  const held = await readFile(file).catch(() => undefined);
  return held?.equals(bytes) === true;
}

const PLACEHOLDER_HTML = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>dps gallery</title><link rel="stylesheet" href="app.css"></head>
<body><main id="app"></main><script src="app.js"></script><script src="data/index.js"></script></body>
</html>
`;

const PLACEHOLDER_JS = `"use strict";
window.dpsGallery = {
  index(data) {
    const app = document.getElementById("app");
    for (const server of data.servers) {
      const h = document.createElement("h1");
      h.textContent = server.name;
      app.append(h);
      for (const channel of server.channels) {
        const p = document.createElement("p");
        p.textContent = channel.name + ": " + channel.count + " file(s)";
        app.append(p);
      }
    }
  },
  channel() {},
};
`;

const PLACEHOLDER_CSS = 'body { font-family: system-ui, sans-serif; margin: 2em; }\n';
