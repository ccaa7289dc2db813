// The page over the GENERATOR's output (issue 25), not a fixture: the fake's demo server scraped, some archived files
// replaced by real pictures (the fake's bytes are not images), `dps gallery`, then gallery/index.html from file://
// in chromium: every channel lists all its files, every archived file opens in the lightbox with its name, author,
// text and links right, the real pictures and their thumbnails load, no request leaves the file system, no error.

import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import t from 'tap';
import { scrapedDemo } from '../cli/gallery-demo.js';
import { runDps } from '../cli/helpers.js';
import type { Line } from '../cli/helpers.js';
import { animatedGif, png } from '../helpers/images.js';
import { chromiumMissing } from './gallery-fixture.js';
import { launchChromium } from './page-driver.js';

t.test("the page over dps gallery's own output", { skip: chromiumMissing }, async (t) => {
  const { out, state, records, images } = await scrapedDemo(t);
  t.ok(images.length >= 3, `${images.length} distinct images archived`);
  const real = images.slice(0, 3);
  await writeFile(String(real[0]!.path), await png(11, 640, 480));
  await writeFile(String(real[1]!.path), await png(22, 300, 500));
  await writeFile(String(real[2]!.path), await animatedGif(33));
  const realShas = new Set(real.map((r) => String(r.sha256)));

  const made = await runDps(['gallery', '--state', state, '--out', out]);
  t.equal(made.code, 0, `gallery exit 0 (stderr: ${made.stderr})`);
  const gallery = join(out, 'gallery');

  const browser = await launchChromium();
  t.teardown(() => browser.close());
  const page = await browser.open(pathToFileURL(join(gallery, 'index.html')).href, { width: 1280, height: 900 });
  await page.waitUntil(`document.querySelector('.card')`);

  const byChannel = new Map<string, Line[]>();
  for (const r of records) byChannel.set(String(r.channel_id), [...(byChannel.get(String(r.channel_id)) ?? []), r]);
  t.equal(await page.evaluate(`document.querySelectorAll('.card').length`), byChannel.size, 'a card per channel with archived files');
  const cards = await page.evaluate<string[]>(`[...document.querySelectorAll('.card')].map((c) => c.textContent)`);
  t.ok(
    cards.some((c) => /gallery › first post.*forum post · /.test(c)),
    'a post of the forum #gallery is labelled a forum post',
  );
  t.ok(
    cards.some((c) => /general › trip photos.*thread · /.test(c)),
    'a thread of #general, a thread',
  );

  let checked = 0;
  const wrong: string[] = [];
  for (const [channel, files] of byChannel) {
    await page.evaluate(`location.hash = ${JSON.stringify(`#c=${channel}`)}`);
    await page.waitUntil(`document.querySelector('.toolbar .count')?.textContent.includes(${JSON.stringify(`${files.length} of ${files.length} file`)})`);
    for (const r of files) {
      await page.evaluate(`location.hash = ${JSON.stringify(`#c=${channel}`)}`);
      await page.waitUntil(`document.querySelector('#lightbox:not([open])')`);
      await page.evaluate(`location.hash = ${JSON.stringify(`#c=${channel}&i=${String(r.attachment_id)}`)}`);
      const opened = await page
        .waitUntil(`document.querySelector('#lightbox[open]')`)
        .then(() => true)
        .catch(() => false);
      if (!opened) {
        wrong.push(
          `${String(r.filename)} (${String(r.attachment_id)}): no lightbox; ${await page.evaluate('location.hash + " " + document.querySelector("main").textContent.slice(0, 200)')}`,
        );
        continue;
      }
      const got = (await page.evaluate(`({
        title: document.getElementById('lb-title').textContent,
        author: document.getElementById('lb-author').textContent,
        text: document.getElementById('lb-text').textContent,
        file: document.getElementById('lb-file').href,
        jump: document.getElementById('lb-jump').getAttribute('href'),
      })`)) as { title: string; author: string; text: string; file: string; jump: string | null };
      const name = String(r.filename);
      if (got.title !== name) wrong.push(`${name}: title ${JSON.stringify(got.title)}`);
      if (r.author_name !== undefined && !got.author.includes(String(r.author_name))) wrong.push(`${name}: author ${JSON.stringify(got.author)}`);
      if (got.text !== String(r.content ?? '')) wrong.push(`${name}: text ${JSON.stringify(got.text)}`);
      if (!got.file.startsWith('file://') || fileURLToPath(got.file) !== r.path || !existsSync(fileURLToPath(got.file)))
        wrong.push(`${name}: file link ${got.file} is not ${String(r.path)}`);
      if (got.jump !== `https://discord.com/channels/${String(r.guild_id)}/${channel}/${String(r.message_id)}`) wrong.push(`${name}: jump ${got.jump}`);
      if (realShas.has(String(r.sha256))) {
        const width = await page.evaluate<number>(
          `(() => { const i = document.querySelector('#lb-media img'); return i.decode().then(() => i.naturalWidth); })()`,
        );
        if (!(width > 0)) wrong.push(`${name}: the picture did not load`);
      }
      checked++;
    }
  }
  t.same(wrong, [], 'every file: name, author, text, file link and Discord link right');
  t.equal(checked, records.length, `every archived file opened (${checked})`);

  // The real pictures' thumbnails load in the grid.
  const first = real[0]!;
  await page.evaluate(`location.hash = ${JSON.stringify(`#c=${String(first.channel_id)}`)}`);
  await page.waitUntil(`document.querySelector('#lightbox:not([open])') && document.querySelector('.cell img')`);
  const thumbs = await page.evaluate<number[]>(`Promise.all([...document.querySelectorAll('.cell img')].map((i) => i.decode().then(() => i.naturalWidth)))`);
  t.ok(thumbs.length > 0 && thumbs.every((w) => w > 0), `the grid's thumbnails load (${thumbs.length})`);

  t.same(
    page.watch.requests.filter((u) => !u.startsWith('file://')),
    [],
    'no request leaves the file system',
  );
  t.same(page.watch.errors, [], 'no console error or warning');
});
