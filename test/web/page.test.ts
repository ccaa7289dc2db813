// The gallery page (issue 25) in headless Chromium (Debian's, through playwright-core), opened from file:// on a
// gallery written per the generator's contract: every file reachable from the index, the lightbox (text, author,
// arrows, Escape, focus, similar images), filters and search, the URL hash across a reload, hostile strings shown
// as text, no request off the file system, no console error. Screenshots go to test/artifacts/.

import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import t from 'tap';
import { ROOT } from '../helpers/harness.js';
import { CHROMIUM, chromiumMissing, demoServers, HOSTILE_TEXT, WEB, writeGallery } from './gallery-fixture.js';
import type { Channel } from './gallery-fixture.js';

const ARTIFACTS = join(ROOT, 'test', 'artifacts');

interface Watch {
  requests: string[];
  errors: string[];
}

async function openPage(browser: Browser, url: string): Promise<{ page: Page; watch: Watch }> {
  const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
  const watch: Watch = { requests: [], errors: [] };
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  page.on('request', (r) => watch.requests.push(r.url()));
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') watch.errors.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => watch.errors.push(`pageerror: ${e.message}`));
  // Anything that is not a file is refused (and shows up in watch.requests).
  await context.route(/^(?!file:)/, (route) => route.abort());
  await page.goto(url);
  return { page, watch };
}

// The attachment ids of every cell the grid shows, scrolling it from top to bottom.
async function allCells(page: Page): Promise<string[]> {
  return page.evaluate(`(async () => {
    const s = document.querySelector('.scroller');
    const ids = new Set();
    const frame = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    s.scrollTop = 0;
    await frame();
    for (;;) {
      for (const c of document.querySelectorAll('.cell')) ids.add(c.dataset.id);
      if (s.scrollTop + s.clientHeight >= s.scrollHeight - 1) break;
      s.scrollTop += s.clientHeight / 2;
      await frame();
    }
    s.scrollTop = 0;
    await frame();
    return [...ids];
  })()`);
}

const ids = (ch: Channel, keep: (i: Channel['items'][number], n: number) => boolean = () => true): string[] =>
  ch.items.filter(keep).map((i) => i.attachment_id);
const sorted = (a: string[]): string[] => [...a].sort();
const hashOf = (page: Page): Promise<string> => page.evaluate('location.hash');

t.test('the gallery page in Chromium from file://', { skip: chromiumMissing }, async (t) => {
  t.ok(existsSync(join(WEB, 'app.js')), 'dist/web is built (npm run build)');
  const dir = t.testdir();
  const servers = demoServers();
  const gallery = await writeGallery(dir, servers);
  const url = pathToFileURL(join(gallery, 'index.html')).href;
  mkdirSync(ARTIFACTS, { recursive: true });
  const browser = await chromium.launch({ executablePath: CHROMIUM });
  t.teardown(() => browser.close());
  const { page, watch } = await openPage(browser, url);
  const photos = servers[0]!.channels[0]!;

  await t.test('the index lists servers and channels with counts, spans and covers', async (t) => {
    await page.locator('.card').first().waitFor();
    t.same(await page.locator('.server h2').allTextContents(), ['Demo Server', 'Second <b>Server</b> #2'], 'server names, as text');
    const cards = page.locator('.card');
    t.equal(await cards.count(), 3);
    const texts = await cards.allTextContents();
    t.match(texts[0], /#photos.*30 files.*Jan 2024 – Apr 2024/);
    t.match(texts[1], /photos › trip.*thread.*5 files/);
    t.match(texts[2], /#memes & more.*4 files/);
    const covers = await page.locator('.card .cover img').evaluateAll((imgs) => Promise.all(imgs.map((i) => i.decode().then(() => i.naturalWidth))));
    t.same(covers, [320, 320, 320], 'every cover thumbnail loads');
    await page.screenshot({ path: join(ARTIFACTS, 'gallery-index.png') });
  });

  await t.test('every archived file is reachable from the index, and every thumbnail and file loads', async (t) => {
    for (const [s, server] of servers.entries()) {
      for (const ch of server.channels) {
        await page.locator('#home').click();
        await page.locator(`.card[data-channel="${ch.id}"]`).click();
        await page.locator('.cell').first().waitFor();
        t.same(sorted(await allCells(page)), sorted(ids(ch)), `${server.name} / ${ch.name}: every file in the grid`);
        t.match(await page.locator('#crumbs').textContent(), ch.name);
        const thumbs = await page.locator('.cell img').evaluateAll((imgs) =>
          Promise.all(
            imgs.map((i) =>
              i.decode().then(
                () => i.naturalWidth,
                () => 0,
              ),
            ),
          ),
        );
        t.notOk((thumbs as number[]).includes(0), `${ch.name}: the thumbnails on screen decode`);
        if (s === 1) {
          // Hostile names: the URL-encoded path reaches the file.
          await page.locator('.cell').first().click();
          const w = await page.locator('#lb-media img').evaluate((i) => i.decode().then(() => i.naturalWidth));
          t.equal(w, 96, `${ch.items[0]!.name}: the original file loads through its encoded path`);
          t.equal(await page.locator('#lb-title').textContent(), 'café #1 %.png');
          await page.keyboard.press('Escape');
        }
      }
    }
    await page.locator('#home').click();
    await page.locator('.card').first().waitFor();
  });

  await t.test('a click opens the lightbox with the right file, text and author; arrows move; Escape closes', async (t) => {
    await page.locator('.card[data-channel="1001"]').click();
    await page.locator('.cell img').first().waitFor();
    await page.screenshot({ path: join(ARTIFACTS, 'gallery-channel.png') });
    t.ok(await page.locator('.current-month span').isHidden(), 'at the top, the month header itself shows the month');
    const two = photos.items[2]!;
    await page.locator(`.cell[data-id="${two.attachment_id}"]`).click();
    const box = page.locator('#lightbox');
    await box.waitFor();
    t.ok(await box.evaluate((d) => d.open), 'the dialog is open');
    t.equal(await page.locator('#lb-text').textContent(), 'cat and dog');
    t.equal(await page.locator('#lb-author').textContent(), 'carol', 'an author without a display name: the user name');
    t.equal(await page.locator('#lb-title').textContent(), two.name);
    t.match(await page.locator('#lb-channel').textContent(), 'Demo Server › #photos');
    t.equal(await page.locator('#lb-jump').getAttribute('href'), `https://discord.com/channels/100/1001/${two.message_id}`);
    t.equal(await page.locator('#lb-media img').evaluate((i) => i.decode().then(() => i.naturalWidth)), 96, 'the full image (the original file) loads');
    t.match(await hashOf(page), `i=${two.attachment_id}`, 'the hash names the open image');
    t.equal(await page.evaluate('document.activeElement.id'), 'lb-close', 'focus moves into the dialog');
    t.same(await page.locator('#lb-similar button').evaluateAll((b) => b.map((x) => x.dataset.id)), [photos.items[0]!.attachment_id], 'similar images');

    await page.keyboard.press('ArrowRight');
    await t.resolves(page.locator('#lb-title', { hasText: photos.items[3]!.name }).waitFor(), 'ArrowRight: the next file');
    t.equal(await page.locator('#lb-author').textContent(), 'Alice A. (@alice)');
    t.equal(await page.locator('#lb-media img').getAttribute('alt'), 'A red kite over the hill', 'alt text from the description');
    t.equal(await page.locator('#lb-text').textContent(), '', 'no message text');
    await page.keyboard.press('ArrowRight');
    await page.locator('#lb-title', { hasText: photos.items[4]!.name }).waitFor();
    t.equal(await page.locator('#lb-text').textContent(), HOSTILE_TEXT, 'hostile text is shown as text');
    t.equal(await page.evaluate('window.__pwned'), undefined, 'and never runs');
    await page.keyboard.press('ArrowLeft');
    await page.keyboard.press('ArrowLeft');
    await page.locator('#lb-title', { hasText: two.name }).waitFor();
    t.equal(await page.locator('#lb-pos').textContent(), '3 / 30');
    await page.locator('#lb-similar button').click();
    await page.locator('#lb-title', { hasText: photos.items[0]!.name }).waitFor();
    t.pass('a similar image opens');
    await page.keyboard.press('ArrowLeft');
    t.equal(await page.locator('#lb-title').textContent(), photos.items[0]!.name, 'ArrowLeft at the first file stays');
    await page.screenshot({ path: join(ARTIFACTS, 'gallery-lightbox.png') });

    await page.keyboard.press('Escape');
    await page.waitForFunction('!document.getElementById("lightbox").open');
    t.notMatch(await hashOf(page), 'i=', 'the hash forgets the image');
    t.equal(await page.evaluate('document.activeElement.dataset.id'), photos.items[0]!.attachment_id, 'focus returns to the last file shown');
  });

  await t.test('the grid is keyboard accessible: arrows move the focus, Enter opens', async (t) => {
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    t.equal(await page.evaluate('document.activeElement.dataset.id'), photos.items[2]!.attachment_id);
    await page.keyboard.press('Enter');
    await page.locator('#lb-title', { hasText: photos.items[2]!.name }).waitFor();
    t.pass('Enter opened the focused file');
    await page.locator('#lb-close').click();
    await page.waitForFunction('!document.getElementById("lightbox").open');
    const labels = await page.locator('.cell').evaluateAll((c) => c.map((b) => b.querySelector('img')?.alt || b.getAttribute('aria-label') || b.textContent));
    t.notOk(
      (labels as string[]).some((l) => !l),
      'every cell has an accessible name',
    );
  });

  await t.test('filters and search narrow the grid to the right set', async (t) => {
    const shown = async (): Promise<string[]> => sorted(await allCells(page));
    const count = page.locator('.toolbar .count');
    await page.locator('select[name=author]').selectOption('502');
    await count.filter({ hasText: /^10 of/ }).waitFor();
    t.same(await shown(), sorted(ids(photos, (i) => i.author === 1)), 'author: Bob');
    await page.locator('input[name=q]').fill('CAT');
    const catBob = ids(photos, (i) => i.author === 1 && /cat/i.test(i.text ?? ''));
    await count.filter({ hasText: new RegExp(`^${catBob.length} of`) }).waitFor();
    t.same(await shown(), sorted(catBob), 'author and search, case-insensitive');
    await page.locator('select[name=author]').selectOption('');
    await page.locator('input[name=q]').fill('cat sleeping');
    const words = ids(photos, (i) => /cat/i.test(i.text ?? '') && /sleeping/i.test(i.text ?? ''));
    await count.filter({ hasText: new RegExp(`^${words.length} of`) }).waitFor();
    t.same(await shown(), sorted(words), 'every word must match');
    await page.locator('input[name=q]').fill('');

    await page.locator('input[name=kind][value="0"]').uncheck();
    const notImages = ids(photos, (i) => i.kind !== 0);
    await count.filter({ hasText: new RegExp(`^${notImages.length} of`) }).waitFor();
    t.same(await shown(), sorted(notImages), 'type: everything but still images');
    t.equal(await page.locator('.cell .badge').count(), 1, 'the animated image has a badge');
    t.match(await page.locator('.cell', { hasText: 'VIDEO' }).textContent(), 'photo-12.mp4', 'a video placeholder');
    t.match(await page.locator('.cell', { hasText: 'FILE' }).textContent(), 'photo-20.pdf', 'a file placeholder');
    // A video plays in the lightbox; another file is a typed tile with a link to it.
    await page.locator('.cell', { hasText: 'VIDEO' }).click();
    await page.locator('#lb-title', { hasText: 'photo-12.mp4' }).waitFor();
    t.equal(await page.locator('#lb-media video').getAttribute('src'), '../Demo%20Server/photos/photo-12.mp4', 'a video player on the original');
    t.equal(await page.locator('#lb-pos').textContent(), '2 / 3', 'the lightbox moves within the filtered set');
    await page.keyboard.press('ArrowRight');
    await page.locator('#lb-title', { hasText: 'photo-20.pdf' }).waitFor();
    t.match(await page.locator('#lb-media .ph').textContent(), 'FILE', 'a typed placeholder');
    t.equal(await page.locator('#lb-file').getAttribute('href'), '../Demo%20Server/photos/photo-20.pdf');
    await page.keyboard.press('Escape');
    await page.waitForFunction('!document.getElementById("lightbox").open');
    await page.locator('input[name=kind][value="0"]').check();

    await page.locator('input[name=from]').fill('2024-02-01');
    await page.locator('input[name=to]').fill('2024-02-29');
    const feb = ids(photos, (i) => new Date(i.t * 1000).getUTCMonth() === 1);
    await count.filter({ hasText: new RegExp(`^${feb.length} of`) }).waitFor();
    t.same(await shown(), sorted(feb), 'date range, both ends inclusive');
    t.same(await page.locator('.row.month').allTextContents(), ['February 2024'], 'one month header');
  });

  await t.test('reloading with the hash restores channel, filters and the open image', async (t) => {
    await page.locator('input[name=q]').fill('dog');
    const febDog = ids(photos, (i) => new Date(i.t * 1000).getUTCMonth() === 1 && /dog/.test(i.text ?? ''));
    await page
      .locator('.toolbar .count')
      .filter({ hasText: new RegExp(`^${febDog.length} of`) })
      .waitFor();
    const target = photos.items.find((i) => i.attachment_id === febDog[1])!;
    await page.locator(`.cell[data-id="${target.attachment_id}"]`).click();
    await page.locator('#lb-title', { hasText: target.name }).waitFor();
    const hash = await hashOf(page);
    t.match(hash, /c=1001/);
    t.match(hash, /from=2024-02-01/);
    t.match(hash, /q=dog/);
    await page.reload();
    await page.locator('#lb-title', { hasText: target.name }).waitFor();
    t.equal(await hashOf(page), hash, 'same hash');
    t.ok(await page.locator('#lightbox').evaluate((d) => d.open), 'the lightbox is open again');
    t.equal(await page.locator('#lb-pos').textContent(), `2 / ${febDog.length}`, 'inside the same filtered set');
    t.equal(await page.locator('input[name=q]').inputValue(), 'dog');
    t.equal(await page.locator('input[name=from]').inputValue(), '2024-02-01');
    t.equal(await page.locator('input[name=to]').inputValue(), '2024-02-29');
    await page.keyboard.press('Escape');
    t.same(sorted(await allCells(page)), sorted(febDog), 'the grid shows the same set');

    // A shared link opened in a new page, and back to the index with the browser's Back.
    const other = await openPage(browser, `${url}#c=1002&a=501`);
    await other.page.locator('.cell').first().waitFor();
    t.same(sorted(await allCells(other.page)), sorted(ids(servers[0]!.channels[1]!, (i) => i.author === 0)), 'a link with a hash opens that view');
    t.same(other.watch.errors, []);
    await other.page.context().close();
  });

  await t.test('a narrower window reflows the grid and keeps every file reachable', async (t) => {
    await page.evaluate('location.hash = "#c=1001"');
    await page
      .locator('.toolbar .count')
      .filter({ hasText: /^30 of/ })
      .waitFor();
    const wide = await page.locator('.row:not(.month)').first().locator('.cell').count();
    await page.setViewportSize({ width: 500, height: 700 });
    await page.waitForFunction(`document.querySelector('.row:not(.month)').querySelectorAll('.cell').length < ${wide}`);
    t.same(sorted(await allCells(page)), sorted(ids(photos)), 'every file, in fewer columns');
    await page.setViewportSize({ width: 1200, height: 800 });
  });

  await t.test('a lightbox the browser closes by itself clears the hash and its media', async (t) => {
    await page.evaluate('location.hash = "#c=1001&i=9012"');
    await page.locator('#lb-media video').waitFor();
    await page.evaluate('document.getElementById("lightbox").close()');
    await page.waitForFunction('!location.hash.includes("i=")');
    t.equal(await page.locator('#lb-media > *').count(), 0, 'the video is gone');
  });

  await t.test('a broken link shows a message, not an error', async (t) => {
    await page.evaluate('location.hash = "#c=999"');
    await page.locator('.empty', { hasText: 'no channel 999' }).waitFor();
    t.pass('unknown channel');
    await page.evaluate('location.hash = "#c=1001&i=123"');
    await page.locator('.cell').first().waitFor();
    t.notOk(await page.locator('#lightbox').evaluate((d) => d.open), 'an unknown image opens nothing');
  });

  t.same(
    watch.requests.filter((u) => !u.startsWith('file://')),
    [],
    'no request leaves the file system',
  );
  t.ok(watch.requests.length > 10, `the page loaded its files (${watch.requests.length} requests)`);
  t.same(watch.errors, [], 'no console error or warning');
});

t.test('a folder without data says so instead of failing', { skip: chromiumMissing }, async (t) => {
  const dir = t.testdir();
  const { copyPage } = await import('./gallery-fixture.js');
  copyPage(dir);
  const browser = await chromium.launch({ executablePath: CHROMIUM });
  t.teardown(() => browser.close());
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(pathToFileURL(join(dir, 'index.html')).href);
  await page.locator('.empty', { hasText: 'data/index.js is missing' }).waitFor();
  t.same(errors, [], 'no script error');
});
