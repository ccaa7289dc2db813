// The gallery page with a 200,000-file channel (issue 25): the grid is virtualized, so the DOM stays under 2,000
// elements while scrolling from the first row to the last; the last file is reachable, a search over the whole
// channel finds the right number, and a hash naming the last file opens it after a reload.

import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import sharp from 'sharp';
import t from 'tap';
import { SCROLL_TO_END_COUNTS } from '../../bench/gallery-scroll.js';
import { b64, CHROMIUM, chromiumMissing, compact, copyPage, js, thumbFor, thumbPath, VERSION } from './gallery-fixture.js';

const N = 200_000;

t.test('a 200,000-file channel: few DOM elements while scrolling to the end', { skip: chromiumMissing }, async (t) => {
  const gallery = join(t.testdir(), 'gallery');
  copyPage(gallery);
  mkdirSync(join(gallery, 'data'), { recursive: true });
  const thumbs: string[] = [];
  for (let i = 0; i < 16; i++) thumbs.push(await thumbFor(gallery, Buffer.from(`thumb ${i}`), i));

  const authors = Array.from({ length: 40 }, (_, i) => ({ id: String(7000 + i), name: `user${i}`, display: `User ${i}` }));
  const texts = Array.from({ length: 5000 }, (_, i) => (i % 97 === 0 ? `needle ${i}` : `message number ${i}`));
  const start = Date.UTC(2020, 0, 1) / 1000;
  const items = {
    attachment_id: [] as string[],
    message_id: [] as string[],
    t: [] as number[],
    a: [] as number[],
    x: [] as number[],
    fd: [] as number[],
    n: [] as string[],
    o: [] as (string | null)[],
    th: [] as (string | null)[],
    k: [] as number[],
    w: [] as number[],
    h: [] as number[],
    d: [] as (string | null)[],
    s: [] as (number[] | null)[],
  };
  let needles = 0;
  for (let i = 0; i < N; i++) {
    const k = i % 50 === 7 ? 2 : i % 50 === 9 ? 1 : i % 211 === 3 ? 3 : 0;
    const x = i % 7 === 0 ? -1 : i % texts.length;
    if (x >= 0 && texts[x]!.startsWith('needle')) needles++;
    items.attachment_id.push(String(10n ** 17n + BigInt(i)));
    items.message_id.push(String(10n ** 17n + BigInt(i >> 1)));
    items.t.push(start + i * 300);
    items.a.push(i % authors.length);
    items.x.push(x);
    items.fd.push(0);
    items.n.push(`f${i}.png`);
    items.o.push(null);
    items.th.push(k === 2 || k === 3 ? null : b64(thumbs[i % thumbs.length]!));
    items.k.push(k);
    items.w.push(0);
    items.h.push(0);
    items.d.push(null);
    items.s.push(null);
  }
  const lastId = items.attachment_id[N - 1]!;
  compact(items);
  // The originals the lightbox loads (the last file, and its neighbour it preloads); the grid only needs thumbnails.
  mkdirSync(join(gallery, '..', 'files'));
  for (const i of [N - 2, N - 1])
    writeFileSync(
      join(gallery, '..', 'files', `f${i}.png`),
      await sharp({ create: { width: 8, height: 8, channels: 3, background: '#396' } })
        .png()
        .toBuffer(),
    );
  writeFileSync(
    join(gallery, 'data', 'c-2.js'),
    js('window.dpsGallery.channel', '2', { version: VERSION, guild_id: '1', channel_id: '2', folders: ['../files'], authors, texts, items }),
  );
  t.comment(`channel data file: ${(statSync(join(gallery, 'data', 'c-2.js')).size / 1e6).toFixed(1)} MB`);
  const index = {
    version: VERSION,
    generated_at: new Date(0).toISOString(),
    servers: [
      {
        id: '1',
        name: 'Big',
        channels: [
          {
            id: '2',
            name: 'everything',
            kind: 'channel',
            count: N,
            first: new Date(start * 1000).toISOString(),
            last: new Date((start + (N - 1) * 300) * 1000).toISOString(),
            cover: thumbPath(thumbs[0]!),
            data: 'data/c-2.js',
          },
        ],
      },
    ],
  };
  writeFileSync(join(gallery, 'data', 'index.js'), js('window.dpsGallery.index', index));

  const browser = await chromium.launch({ executablePath: CHROMIUM });
  t.teardown(() => browser.close());
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  const errors: string[] = [];
  const offFile: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('request', (r) => {
    if (!r.url().startsWith('file://')) offFile.push(r.url());
  });
  const url = pathToFileURL(join(gallery, 'index.html')).href;
  await page.addInitScript(`document.addEventListener('load', (e) => {
    if (!window.__firstThumb && e.target.matches && e.target.matches('.cell img')) window.__firstThumb = performance.now();
  }, true)`);
  await page.goto(`${url}#c=2`);
  await page.locator('.cell img').first().waitFor();
  // A figure for a person (the bench measures it): when the first thumbnail had loaded, from the navigation.
  const painted = await page.evaluate(`new Promise((r) => {
    const at = () => (window.__firstThumb ? r(Math.round(window.__firstThumb)) : setTimeout(at, 10));
    at();
  })`);
  t.comment(`page marks (ms): ${JSON.stringify(await page.evaluate(`performance.getEntriesByType('mark').map((e) => [e.name, Math.round(e.startTime)])`))}`);
  t.comment(`first thumbnail loaded ${painted} ms after navigation (the data file parsed included)`);
  t.match(await page.locator('.toolbar .count').textContent(), /^200,?000 of 200,?000 files$/);

  const sizes = (await page.evaluate(SCROLL_TO_END_COUNTS)) as number[]; // from the top to the end, as the bench scrolls
  const most = Math.max(...sizes);
  t.comment(`DOM elements while scrolling: ${Math.min(...sizes)} to ${most}`);
  t.ok(most < 2000, `the DOM stays under 2,000 elements (at most ${most})`);
  t.ok(Math.min(...sizes) > 50, 'and the grid is not empty');
  t.equal(await page.locator(`.cell[data-id="${lastId}"]`).count(), 1, 'the last file is in the grid at the end');
  t.equal(await page.locator('.current-month span').textContent(), 'November 2021', 'the month on screen is shown above the grid');
  t.ok(await page.locator('.current-month span').isVisible(), 'and is visible');

  await page.locator('input[name=q]').fill('NEEDLE');
  await page.locator('.toolbar .count').filter({ hasText: /^\d/ }).first().waitFor();
  const count = (await page.locator('.toolbar .count').textContent()) ?? '';
  t.equal(Number(count.split(' of ')[0]!.replace(/\D/g, '')), needles, `search over the whole channel: ${needles} files`);

  await page.goto(`${url}#c=2&i=${lastId}`);
  await page.reload();
  await page.locator('#lb-title', { hasText: `f${N - 1}.png` }).waitFor();
  t.match(await page.locator('#lb-pos').textContent(), /^200,?000 \/ 200,?000$/, 'a hash naming the last file opens it');
  t.equal(await page.locator('#lb-prev').isDisabled(), false);
  t.equal(await page.locator('#lb-next').isDisabled(), true, 'nothing after the last');

  t.same(offFile, [], 'no request leaves the file system');
  t.same(errors, [], 'no console error');
});
