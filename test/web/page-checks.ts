// The gallery page's checks (issue 25), run in every browser through page-driver.ts (page.test.ts: Chromium,
// page-firefox.test.ts: Firefox): opened from file:// on a gallery written per the generator's contract, every
// file reachable from the index, the lightbox (text, author, arrows, Escape, focus, similar images), filters and
// search, the URL hash across a reload, hostile strings shown as text, no request off the file system, no console
// error. Screenshots go to test/artifacts/, named after the browser.

import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Test } from 'tap';
import { ROOT } from '../helpers/harness.js';
import { copyPage, demoServers, HOSTILE_TEXT, WEB, writeGallery } from './gallery-fixture.js';
import type { Channel } from './gallery-fixture.js';
import type { BrowserDriver, PageDriver } from './page-driver.js';

const ARTIFACTS = join(ROOT, 'test', 'artifacts');

const str = JSON.stringify;
export const text = (page: PageDriver, selector: string): Promise<string | null> =>
  page.evaluate(`document.querySelector(${str(selector)})?.textContent ?? null`);
const texts = (page: PageDriver, selector: string): Promise<string[]> =>
  page.evaluate(`[...document.querySelectorAll(${str(selector)})].map((e) => e.textContent)`);
const attr = (page: PageDriver, selector: string, name: string): Promise<string | null> =>
  page.evaluate(`document.querySelector(${str(selector)})?.getAttribute(${str(name)}) ?? null`);
export const count = (page: PageDriver, selector: string): Promise<number> => page.evaluate(`document.querySelectorAll(${str(selector)}).length`);
export const visible = (page: PageDriver, selector: string): Promise<boolean> =>
  page.evaluate(
    `(() => { const e = document.querySelector(${str(selector)}); return !!e && e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden'; })()`,
  );
const isOpen = (page: PageDriver): Promise<boolean> => page.evaluate('document.getElementById("lightbox").open');
const hashOf = (page: PageDriver): Promise<string> => page.evaluate('location.hash');
const activeId = (page: PageDriver): Promise<string | undefined> => page.evaluate('document.activeElement.dataset.id');
// Waits for an element matching `selector` whose text matches (a string: contains it).
export const waitText = (page: PageDriver, selector: string, match: string | RegExp): Promise<void> => {
  const test =
    typeof match === 'string'
      ? `(e.textContent ?? '').includes(${str(match)})`
      : `new RegExp(${str(match.source)}, ${str(match.flags)}).test(e.textContent ?? '')`;
  return page.waitUntil(`[...document.querySelectorAll(${str(selector)})].some((e) => ${test})`);
};
export const waitFor = (page: PageDriver, selector: string): Promise<void> => page.waitUntil(`document.querySelector(${str(selector)})`);
const waitClosed = (page: PageDriver): Promise<void> => page.waitUntil('!document.getElementById("lightbox").open');
const waitCount = (page: PageDriver, n: number): Promise<void> => waitText(page, '.toolbar .count', new RegExp(`^${n} of`));
// The natural widths of the images matching `selector` once decoded (0: did not decode).
const decodedWidths = (page: PageDriver, selector: string): Promise<number[]> =>
  page.evaluate(`Promise.all([...document.querySelectorAll(${str(selector)})].map((i) => i.decode().then(() => i.naturalWidth, () => 0)))`);

// The attachment ids of every cell the grid shows, scrolling it from top to bottom.
function allCells(page: PageDriver): Promise<string[]> {
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

// Every check of the page in one browser (`launch` starts it; the caller's test skips when it is missing).
export async function pageChecks(t: Test, launch: () => Promise<BrowserDriver>): Promise<void> {
  t.ok(existsSync(join(WEB, 'app.js')), 'dist/web is built (npm run build)');
  const dir = t.testdir();
  const servers = demoServers();
  const gallery = await writeGallery(dir, servers);
  const url = pathToFileURL(join(gallery, 'index.html')).href;
  mkdirSync(ARTIFACTS, { recursive: true });
  const browser = await launch();
  t.teardown(() => browser.close());
  const shot = (name: string): string => join(ARTIFACTS, `gallery-${name}-${browser.name}.png`);
  const page = await browser.open(url);
  const photos = servers[0]!.channels[0]!;

  await t.test('the index lists servers and channels with counts, spans and covers', async (t) => {
    await waitFor(page, '.card');
    t.same(await texts(page, '.server h2'), ['Demo Server', 'Second <b>Server</b> #2'], 'server names, as text');
    t.equal(await count(page, '.card'), 3);
    const cards = await texts(page, '.card');
    t.match(cards[0], /#photos.*30 files.*Jan 2024 – Apr 2024/);
    t.match(cards[1], /photos › trip.*thread.*5 files/);
    t.match(cards[2], /#memes & more.*4 files/);
    t.same(await decodedWidths(page, '.card .cover img'), [320, 320, 320], 'every cover thumbnail loads');
    await page.screenshot(shot('index'));
  });

  await t.test('every archived file is reachable from the index, and every thumbnail and file loads', async (t) => {
    for (const [s, server] of servers.entries()) {
      for (const ch of server.channels) {
        await page.click('#home');
        await page.click(`.card[data-channel="${ch.id}"]`);
        await waitFor(page, '.cell');
        t.same(sorted(await allCells(page)), sorted(ids(ch)), `${server.name} / ${ch.name}: every file in the grid`);
        t.match(await text(page, '#crumbs'), ch.name);
        t.notOk((await decodedWidths(page, '.cell img')).includes(0), `${ch.name}: the thumbnails on screen decode`);
        if (s === 1) {
          // Hostile names: the URL-encoded path reaches the file.
          await page.click('.cell');
          await waitFor(page, '#lb-media img');
          t.same(await decodedWidths(page, '#lb-media img'), [96], `${ch.items[0]!.name}: the original file loads through its encoded path`);
          t.equal(await text(page, '#lb-title'), 'café #1 %.png');
          await page.press('Escape');
          await waitClosed(page);
        }
      }
    }
    await page.click('#home');
    await waitFor(page, '.card');
  });

  await t.test('a click opens the lightbox with the right file, text and author; arrows move; Escape closes', async (t) => {
    await page.click('.card[data-channel="1001"]');
    await waitFor(page, '.cell img');
    await page.screenshot(shot('channel'));
    t.notOk(await visible(page, '.current-month span'), 'at the top, the month header itself shows the month');
    const two = photos.items[2]!;
    await page.click(`.cell[data-id="${two.attachment_id}"]`);
    await waitFor(page, '#lightbox[open]');
    t.ok(await isOpen(page), 'the dialog is open');
    t.equal(await text(page, '#lb-text'), 'cat and dog');
    t.equal(await text(page, '#lb-author'), 'carol', 'an author without a display name: the user name');
    t.equal(await text(page, '#lb-title'), two.name);
    t.match(await text(page, '#lb-channel'), 'Demo Server › #photos');
    t.equal(await attr(page, '#lb-jump', 'href'), `https://discord.com/channels/100/1001/${two.message_id}`);
    t.same(await decodedWidths(page, '#lb-media img'), [96], 'the full image (the original file) loads');
    t.match(await hashOf(page), `i=${two.attachment_id}`, 'the hash names the open image');
    t.equal(await page.evaluate('document.activeElement.id'), 'lb-close', 'focus moves into the dialog');
    t.same(
      await page.evaluate('[...document.querySelectorAll("#lb-similar button")].map((x) => x.dataset.id)'),
      [photos.items[0]!.attachment_id],
      'similar images',
    );

    await page.press('ArrowRight');
    await t.resolves(waitText(page, '#lb-title', photos.items[3]!.name), 'ArrowRight: the next file');
    t.equal(await text(page, '#lb-author'), 'Alice A. (@alice)');
    t.equal(await attr(page, '#lb-media img', 'alt'), 'A red kite over the hill', 'alt text from the description');
    t.equal(await text(page, '#lb-text'), '', 'no message text');
    await page.press('ArrowRight');
    await waitText(page, '#lb-title', photos.items[4]!.name);
    t.equal(await text(page, '#lb-text'), HOSTILE_TEXT, 'hostile text is shown as text');
    t.equal(await page.evaluate('window.__pwned ?? null'), null, 'and never runs');
    await page.press('ArrowLeft');
    await page.press('ArrowLeft');
    await waitText(page, '#lb-title', two.name);
    t.equal(await text(page, '#lb-pos'), '3 / 30');
    await page.click('#lb-similar button');
    await waitText(page, '#lb-title', photos.items[0]!.name);
    t.pass('a similar image opens');
    await page.press('ArrowLeft');
    t.equal(await text(page, '#lb-title'), photos.items[0]!.name, 'ArrowLeft at the first file stays');
    await page.screenshot(shot('lightbox'));

    await page.press('Escape');
    await waitClosed(page);
    t.notMatch(await hashOf(page), 'i=', 'the hash forgets the image');
    t.equal(await activeId(page), photos.items[0]!.attachment_id, 'focus returns to the last file shown');
  });

  await t.test('the grid is keyboard accessible: arrows move the focus, Enter opens', async (t) => {
    await page.press('ArrowRight');
    await page.press('ArrowRight');
    t.equal(await activeId(page), photos.items[2]!.attachment_id);
    await page.press('Enter');
    await waitText(page, '#lb-title', photos.items[2]!.name);
    t.pass('Enter opened the focused file');
    await page.click('#lb-close');
    await waitClosed(page);
    const labels = await page.evaluate<string[]>(
      `[...document.querySelectorAll('.cell')].map((b) => b.querySelector('img')?.alt || b.getAttribute('aria-label') || b.textContent)`,
    );
    t.notOk(
      labels.some((l) => !l),
      'every cell has an accessible name',
    );
  });

  await t.test('filters and search narrow the grid to the right set', async (t) => {
    const shown = async (): Promise<string[]> => sorted(await allCells(page));
    await page.select('select[name=author]', '502');
    await waitCount(page, 10);
    t.same(await shown(), sorted(ids(photos, (i) => i.author === 1)), 'author: Bob');
    await page.fill('input[name=q]', 'CAT');
    const catBob = ids(photos, (i) => i.author === 1 && /cat/i.test(i.text ?? ''));
    await waitCount(page, catBob.length);
    t.same(await shown(), sorted(catBob), 'author and search, case-insensitive');
    await page.select('select[name=author]', '');
    await page.fill('input[name=q]', 'cat sleeping');
    const words = ids(photos, (i) => /cat/i.test(i.text ?? '') && /sleeping/i.test(i.text ?? ''));
    await waitCount(page, words.length);
    t.same(await shown(), sorted(words), 'every word must match');
    await page.fill('input[name=q]', '');
    await waitCount(page, 30);

    await page.click('input[name=kind][value="0"]'); // unchecked
    const notImages = ids(photos, (i) => i.kind !== 0);
    await waitCount(page, notImages.length);
    t.same(await shown(), sorted(notImages), 'type: everything but still images');
    t.equal(await count(page, '.cell .badge'), 1, 'the animated image has a badge');
    const cellWith = (label: string): Promise<string | null> =>
      page.evaluate(`[...document.querySelectorAll('.cell')].find((c) => c.textContent.includes(${str(label)}))?.dataset.id ?? null`);
    const video = await cellWith('VIDEO');
    const file = await cellWith('FILE');
    t.match(await text(page, `.cell[data-id="${video}"]`), 'photo-12.mp4', 'a video placeholder');
    t.match(await text(page, `.cell[data-id="${file}"]`), 'photo-20.pdf', 'a file placeholder');
    // A video plays in the lightbox; another file is a typed tile with a link to it.
    await page.click(`.cell[data-id="${video}"]`);
    await waitText(page, '#lb-title', 'photo-12.mp4');
    t.equal(await attr(page, '#lb-media video', 'src'), '../Demo%20Server/photos/photo-12.mp4', 'a video player on the original');
    t.equal(await text(page, '#lb-pos'), '2 / 3', 'the lightbox moves within the filtered set');
    await page.press('ArrowRight');
    await waitText(page, '#lb-title', 'photo-20.pdf');
    t.match(await text(page, '#lb-media .ph'), 'FILE', 'a typed placeholder');
    t.equal(await attr(page, '#lb-file', 'href'), '../Demo%20Server/photos/photo-20.pdf');
    await page.press('Escape');
    await waitClosed(page);
    await page.click('input[name=kind][value="0"]'); // checked again
    await waitCount(page, 30);

    await page.fill('input[name=from]', '2024-02-01');
    await page.fill('input[name=to]', '2024-02-29');
    const feb = ids(photos, (i) => new Date(i.t * 1000).getUTCMonth() === 1);
    await waitCount(page, feb.length);
    t.same(await shown(), sorted(feb), 'date range, both ends inclusive');
    t.same(await texts(page, '.row.month'), ['February 2024'], 'one month header');
  });

  await t.test('reloading with the hash restores channel, filters and the open image', async (t) => {
    await page.fill('input[name=q]', 'dog');
    const febDog = ids(photos, (i) => new Date(i.t * 1000).getUTCMonth() === 1 && /dog/.test(i.text ?? ''));
    await waitCount(page, febDog.length);
    const target = photos.items.find((i) => i.attachment_id === febDog[1])!;
    await page.click(`.cell[data-id="${target.attachment_id}"]`);
    await waitText(page, '#lb-title', target.name);
    const hash = await hashOf(page);
    t.match(hash, /c=1001/);
    t.match(hash, /from=2024-02-01/);
    t.match(hash, /q=dog/);
    await page.reload();
    await waitText(page, '#lb-title', target.name);
    t.equal(await hashOf(page), hash, 'same hash');
    t.ok(await isOpen(page), 'the lightbox is open again');
    t.equal(await text(page, '#lb-pos'), `2 / ${febDog.length}`, 'inside the same filtered set');
    t.equal(await page.evaluate('document.querySelector("input[name=q]").value'), 'dog');
    t.equal(await page.evaluate('document.querySelector("input[name=from]").value'), '2024-02-01');
    t.equal(await page.evaluate('document.querySelector("input[name=to]").value'), '2024-02-29');
    await page.press('Escape');
    await waitClosed(page);
    t.same(sorted(await allCells(page)), sorted(febDog), 'the grid shows the same set');

    // A shared link opened in a new page, and back to the index with the browser's Back.
    const other = await browser.open(`${url}#c=1002&a=501`);
    await waitFor(other, '.cell');
    t.same(sorted(await allCells(other)), sorted(ids(servers[0]!.channels[1]!, (i) => i.author === 0)), 'a link with a hash opens that view');
    t.same(other.watch.errors, []);
    await other.close();
  });

  await t.test('a narrower window reflows the grid and keeps every file reachable', async (t) => {
    await page.evaluate('location.hash = "#c=1001"');
    await waitCount(page, 30);
    const columns = (): Promise<number> => page.evaluate(`document.querySelector('.row:not(.month)').querySelectorAll('.cell').length`);
    const wide = await columns();
    await page.setViewport(500, 700);
    await page.waitUntil(`document.querySelector('.row:not(.month)').querySelectorAll('.cell').length < ${wide}`);
    t.same(sorted(await allCells(page)), sorted(ids(photos)), 'every file, in fewer columns');
    await page.setViewport(1200, 800);
  });

  await t.test('a lightbox the browser closes by itself clears the hash and its media', async (t) => {
    await page.evaluate('location.hash = "#c=1001&i=9012"');
    await waitFor(page, '#lb-media video');
    await page.evaluate('document.getElementById("lightbox").close()');
    await page.waitUntil('!location.hash.includes("i=")');
    t.equal(await count(page, '#lb-media > *'), 0, 'the video is gone');
  });

  await t.test('a broken link shows a message, not an error', async (t) => {
    await page.evaluate('location.hash = "#c=999"');
    await waitText(page, '.empty', 'no channel 999');
    t.pass('unknown channel');
    await page.evaluate('location.hash = "#c=1001&i=123"');
    await waitFor(page, '.cell');
    t.notOk(await isOpen(page), 'an unknown image opens nothing');
  });

  t.same(
    page.watch.requests.filter((u) => !u.startsWith('file://')),
    [],
    'no request leaves the file system',
  );
  if (browser.seesFileRequests) t.ok(page.watch.requests.length > 10, `the page loaded its files (${page.watch.requests.length} requests)`);
  t.same(page.watch.errors, [], 'no console error or warning');

  // The watch sees what it must refuse: a request to a server (refused before it leaves; not a port browsers block).
  await page.evaluate(`(() => { const i = new Image(); i.src = 'http://127.0.0.1:59999/canary.png'; document.body.append(i); })()`);
  await t.resolves(
    waitUntilNode(() => page.watch.requests.includes('http://127.0.0.1:59999/canary.png')),
    'a request off the file system would have been seen',
  );
}

// Polls a condition in this process (what a browser reported) until it holds, at most `ms`.
async function waitUntilNode(ok: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

// A gallery folder with the page and no data: a message, not a script error.
export async function noDataCheck(t: Test, launch: () => Promise<BrowserDriver>): Promise<void> {
  const dir = t.testdir();
  copyPage(dir);
  const browser = await launch();
  t.teardown(() => browser.close());
  const page = await browser.open(pathToFileURL(join(dir, 'index.html')).href);
  await waitText(page, '.empty', 'data/index.js is missing');
  t.same(
    page.watch.errors.filter((e) => e.startsWith('pageerror')),
    [],
    'no script error',
  );
}
