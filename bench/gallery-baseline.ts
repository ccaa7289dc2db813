// `node dist/bench/gallery-baseline.js <list.json> <out dir> <parallelism>`: the bare loop dps gallery's thumbnails
// are measured against (issue 25). For each file of the list: sharp's metadata, then the same thumbnail settings as
// lib/gallery/thumbnail.ts (first frame, EXIF rotation, 320 px inside, no enlargement, WebP quality 75) written to
// <out dir>, `parallelism` files at once in one thread (as dps at its defaults), libvips' cache off. No dHash, no
// temp file and rename, no state. Prints {"files", "seconds", "filesPerSecond"} as its last line.

import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';

const [list, out, parallelism] = process.argv.slice(2);
const files = JSON.parse(readFileSync(list!, 'utf8')) as string[];
mkdirSync(out!, { recursive: true });
sharp.cache(false);
const started = performance.now();
let next = 0;
const lanes = Array.from({ length: Math.min(files.length, Number(parallelism)) }, async () => {
  for (let i = next++; i < files.length; i = next++) {
    const image = sharp(files[i]!, { failOn: 'error' });
    await image.metadata();
    await image
      .rotate()
      .resize(320, 320, { fit: 'inside', withoutEnlargement: true })
      .webp({ quality: 75 })
      .toFile(join(out!, `${i}.webp`));
  }
});
await Promise.all(lanes);
const seconds = (performance.now() - started) / 1000;
console.log(JSON.stringify({ files: files.length, seconds, filesPerSecond: files.length / seconds }));
