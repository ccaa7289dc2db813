// dps gallery killed (SIGKILL) or interrupted (SIGINT) while it makes thumbnails: the next run completes the
// gallery, every thumbnail on disk is a whole WebP (written through a temp file and a rename), no temp is left.

import t from 'tap';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import sharp from 'sharp';
import { listFiles } from '../helpers/harness.js';
import { picture } from '../helpers/images.js';
import { scrapedDemo } from './gallery-demo.js';
import { runDps, startCli } from './helpers.js';

// Resolves once `dir` holds more than `count` files ending with `suffix` (the run is making thumbnails).
async function moreFiles(dir: string, suffix: string, count: number): Promise<void> {
  for (;;) {
    const files = existsSync(dir) ? await listFiles(dir).catch(() => []) : [];
    if (files.filter((name) => name.endsWith(suffix)).length > count) return;
    await sleep(5);
  }
}

t.test('a killed or interrupted gallery run is completed by the next', async (t) => {
  const { out, state, images } = await scrapedDemo(t);
  // Large real photos, so decoding takes long enough to be stopped part-way.
  for (const [i, record] of images.entries())
    await writeFile(
      String(record.path),
      await picture(1000 + i, 2400, 1800)
        .jpeg()
        .toBuffer(),
    );
  const shas = new Set(images.map((r) => String(r.sha256)));
  const gallery = join(out, 'gallery');

  const killed = startCli(['gallery', '--state', state, '--out', out]);
  await moreFiles(join(gallery, 'thumbs'), '.webp', 0);
  killed.child.kill('SIGKILL');
  const end = await killed.done;
  t.equal(end.signal, 'SIGKILL', 'killed');
  const made = (await listFiles(join(gallery, 'thumbs'))).filter((name) => name.endsWith('.webp') && !name.startsWith('.tmp'));
  t.ok(made.length < shas.size, `killed part-way (${made.length} of ${shas.size} thumbnails)`);

  const interrupted = startCli(['gallery', '--state', state, '--out', out]);
  await moreFiles(join(gallery, 'thumbs'), '.webp', made.length);
  interrupted.child.kill('SIGINT');
  const stopped = await interrupted.done;
  t.ok(stopped.code === 130 || stopped.code === 0, `SIGINT: exit 130 (or 0 if it had finished), got ${stopped.code}`);

  const again = await runDps(['gallery', '--state', state, '--out', out]);
  t.equal(again.code, 0, `the next run: exit 0 (stderr: ${again.stderr})`);
  t.match(again.lines.at(-1), { command: 'gallery' });
  t.same(
    again.lines.filter((line) => line.event === 'warning' && shas.has(String(line.sha256))),
    [],
    'no warning for a picture',
  );
  const thumbs = await listFiles(join(gallery, 'thumbs'));
  t.same(
    thumbs.filter((name) => !name.endsWith('.webp')),
    [],
    'no temp file left',
  );
  t.notOk(existsSync(join(gallery, 'thumbs', '.tmp')), 'no temp folder left');
  t.same(thumbs.map((name) => name.split('/').at(-1)?.replace('.webp', '')).sort(), [...shas].sort(), 'a thumbnail for every picture');
  for (const name of thumbs) {
    const meta = await sharp(join(gallery, 'thumbs', name)).metadata();
    if (meta.format !== 'webp' || Math.max(meta.width ?? 0, meta.height ?? 0) !== 320) t.fail(`${name}: ${meta.format} ${meta.width}x${meta.height}`);
  }
  const last = await runDps(['gallery', '--state', state, '--out', out]);
  t.match(last.lines.at(-1), { thumbnails_made: 0 }, 'then nothing left to make');
});
