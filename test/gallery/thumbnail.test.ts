// decodeFile and decodeMissing on real images made with sharp: EXIF orientation applied, 320 px on the long side,
// no enlargement, the first frame of an animation (flagged), an undecodable file a placeholder and a warning,
// temp files never left, and a second pass decodes nothing.

import t from 'tap';
import { existsSync, readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import sharp from 'sharp';
import { MemoryLevel } from 'memory-level';
import { Store } from '../../lib/store/store.js';
import type { StoreDb } from '../../lib/store/store.js';
import { decodeFile } from '../../lib/gallery/thumbnail.js';
import { decodeMissing, thumbPath } from '../../lib/gallery/decode-missing.js';
import { runThumbPool } from '../../lib/gallery/thumb-pool.js';
import type { GalleryWarningEvent } from '../../lib/gallery/gallery-events.js';
import { animatedGif, corrupt, jpegOrientation6, png } from '../helpers/images.js';

t.test('decodeFile: orientation, size, animation', async (t) => {
  const dir = t.testdir();
  const jpeg = join(dir, 'turned.jpg');
  await writeFile(jpeg, await jpegOrientation6(1, 800, 400));
  const thumb = join(dir, 'out', 'turned.webp');
  const decoded = await decodeFile(jpeg, thumb, dir);
  t.match(decoded, { w: 400, h: 800, k: 0 }, 'the size as shown (orientation 6 swaps it)');
  t.match(decoded.d, /^[0-9a-f]{16}$/);
  const meta = await sharp(thumb).metadata();
  t.equal(meta.format, 'webp');
  t.same([meta.width, meta.height], [160, 320], 'portrait, 320 px on the long side');
  t.notOk(meta.orientation && meta.orientation !== 1, 'no orientation left to apply');

  const small = join(dir, 'small.png');
  await writeFile(small, await png(2, 100, 60));
  const smallThumb = join(dir, 'out', 'small.webp');
  t.match(await decodeFile(small, smallThumb, dir), { w: 100, h: 60, k: 0 });
  const smallMeta = await sharp(smallThumb).metadata();
  t.same([smallMeta.width, smallMeta.height], [100, 60], 'never enlarged');

  const gif = join(dir, 'moving.gif');
  await writeFile(gif, await animatedGif(3, 4, 200, 120));
  const gifThumb = join(dir, 'out', 'moving.webp');
  t.match(await decodeFile(gif, gifThumb, dir), { w: 200, h: 120, k: 1 }, 'an animation: k 1, the size of one frame');
  const gifMeta = await sharp(gifThumb).metadata();
  t.equal(gifMeta.pages ?? 1, 1, 'the thumbnail is one frame');
  t.same([gifMeta.width, gifMeta.height], [200, 120]);
  const first = await decodeFile(join(dir, 'first.png'), null, dir).catch(() => undefined);
  t.equal(first, undefined, 'a missing file rejects');

  const bad = join(dir, 'bad.png');
  await writeFile(bad, corrupt());
  await t.rejects(decodeFile(bad, join(dir, 'out', 'bad.webp'), dir));
  t.notOk(existsSync(join(dir, 'out', 'bad.webp')), 'no thumbnail for a corrupt file');
  t.same(
    readdirSync(dir).filter((name) => name.endsWith('.tmp')),
    [],
    'no temp file left',
  );
});

t.test('the first frame, not another one', async (t) => {
  const dir = t.testdir();
  const gif = join(dir, 'moving.gif');
  await writeFile(gif, await animatedGif(10, 3, 160, 100));
  const firstFrame = join(dir, 'first.png');
  await writeFile(firstFrame, await png(10, 160, 100));
  const fromGif = await decodeFile(gif, null, dir);
  const fromFrame = await decodeFile(firstFrame, null, dir);
  const third = join(dir, 'third.png');
  await writeFile(third, await png(12, 160, 100));
  const fromThird = await decodeFile(third, null, dir);
  const bits = (a: string, b: string): number => (BigInt(`0x${a}`) ^ BigInt(`0x${b}`)).toString(2).replace(/0/g, '').length;
  t.ok(bits(fromGif.d, fromFrame.d) <= 6, `the GIF's hash is its first frame's (${bits(fromGif.d, fromFrame.d)} bits)`);
  t.ok(bits(fromGif.d, fromThird.d) > 6, `not its third frame's (${bits(fromGif.d, fromThird.d)} bits)`);
});

t.test('decodeMissing: the pool, the state, placeholders, a second pass', async (t) => {
  const dir = t.testdir();
  const gallery = join(dir, 'gallery');
  const files = [
    { sha256: 'a'.repeat(64), path: join(dir, 'a.png'), bytes: await png(1) },
    { sha256: 'b'.repeat(64), path: join(dir, 'b.jpg'), bytes: await jpegOrientation6(2) },
    { sha256: 'c'.repeat(64), path: join(dir, 'c.gif'), bytes: await animatedGif(3) },
    { sha256: 'd'.repeat(64), path: join(dir, 'd.png'), bytes: corrupt() },
  ];
  for (const file of files) await writeFile(file.path, file.bytes);
  const store = new Store(new MemoryLevel({ valueEncoding: 'json' }) as unknown as StoreDb);
  await (store as unknown as { open?: () => Promise<void> }).open?.();
  const warnings: GalleryWarningEvent[] = [];
  const first = await decodeMissing(files, { store, galleryDir: gallery, workers: 2, warn: (w) => void warnings.push(w) });
  t.equal(first.made, 3, 'three thumbnails');
  t.equal(first.decoded, 4, 'four files decoded');
  t.equal(warnings.length, 1, 'one warning');
  t.match(warnings[0], { event: 'warning', code: 'thumbnail_failed', sha256: 'd'.repeat(64), path: join(dir, 'd.png') });
  t.match(first.entries.get('d'.repeat(64)), { d: null, bad: String });
  t.match(first.entries.get('c'.repeat(64)), { k: 1 });
  for (const file of files.slice(0, 3)) t.ok(existsSync(join(gallery, thumbPath(file.sha256))), `thumbnail of ${file.path}`);
  t.notOk(existsSync(join(gallery, thumbPath('d'.repeat(64)))));
  t.notOk(existsSync(join(gallery, 'thumbs', '.tmp')), 'no temp folder left');

  const again = await decodeMissing([...files, files[0] as (typeof files)[0]], { store, galleryDir: gallery, warn: (w) => void warnings.push(w) });
  t.same([again.decoded, again.made, warnings.length], [0, 0, 1], 'a second pass decodes nothing and warns no more');
  t.same(again.entries.get('a'.repeat(64)), first.entries.get('a'.repeat(64)), 'from the state');

  const elsewhere = await decodeMissing(files, { store, galleryDir: join(dir, 'other'), workers: 1, warn: () => undefined });
  t.same([elsewhere.decoded, elsewhere.made], [3, 3], 'another gallery folder gets its own thumbnails (the corrupt file is not retried)');
  await store.close();
});

t.test('an abort stops handing out files', async (t) => {
  const dir = t.testdir();
  const files = await Promise.all(
    Array.from({ length: 6 }, async (_, i) => {
      const path = join(dir, `${i}.png`);
      await writeFile(path, await png(i));
      return { sha256: String(i).repeat(64), path };
    }),
  );
  const store = new Store(new MemoryLevel({ valueEncoding: 'json' }) as unknown as StoreDb);
  const controller = new AbortController();
  controller.abort();
  const result = await decodeMissing(files, { store, galleryDir: join(dir, 'g'), workers: 2, signal: controller.signal, warn: () => undefined });
  t.equal(result.decoded, 0, 'aborted before start: nothing decoded');

  // Aborted mid-flight: the files in flight finish and are answered; no new one starts.
  for (const workers of [0, 2]) {
    const abortAfterOne = new AbortController();
    let answered = 0;
    await runThumbPool(
      files.map((f, i) => ({ file: f.path, thumb: join(dir, `one-${workers}`, `${i}.webp`), tempDir: dir })),
      () => {
        answered++;
        abortAfterOne.abort();
      },
      { workers, signal: abortAfterOne.signal },
    );
    t.ok(
      answered >= 1 && answered <= (workers || availableParallelism()),
      `workers ${workers}: aborted after the first answer, ${answered} answered (those in flight)`,
    );
    t.equal(readdirSync(join(dir, `one-${workers}`)).length, answered, 'a thumbnail for each answered file only');
  }
  await store.close();
});
