// The gallery page against hostile data files (issue 25): absolute and javascript: URLs where the contract has
// relative paths or a Discord link are never loaded nor linked, a data path off the file system loads nothing, a
// data file that registers the wrong channel or is missing gives a message; no request leaves the file system.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import t from 'tap';
import { CHROMIUM, chromiumMissing, copyPage, js, VERSION } from './gallery-fixture.js';

const channelEntry = (id: string, data: string, cover: string | null) => ({
  id,
  name: `ch${id}`,
  kind: 'channel',
  count: 1,
  first: '2024-01-01T00:00:00.000Z',
  last: '2024-01-01T00:00:00.000Z',
  cover,
  data,
});

const oneItem = (folder: string, th: string | null, guild: string | null, version = VERSION) => ({
  version,
  guild_id: guild,
  channel_id: '10',
  folders: [folder],
  authors: [{ id: '1', name: 'mallory', display: 'Mallory' }],
  texts: ['hello'],
  items: {
    attachment_id: ['42'],
    message_id: ['43'],
    t: [1704067200],
    a: [0],
    x: [0],
    fd: [0],
    n: ['evil.png'],
    o: [null],
    th: [th],
    k: [0],
    w: [0],
    h: [0],
    d: [null],
    s: [[5, -1, 0, 'x']],
  },
});

t.test('hostile paths and links in the data files', { skip: chromiumMissing }, async (t) => {
  const gallery = t.testdir();
  copyPage(gallery);
  mkdirSync(join(gallery, 'data'));
  const index = {
    version: VERSION,
    generated_at: '2024-01-01T00:00:00.000Z',
    servers: [
      {
        id: '1',
        name: 'S',
        channels: [
          channelEntry('10', 'data/c-10.js', 'https://example.com/cover.webp'),
          channelEntry('11', 'https://example.com/c-11.js', null),
          channelEntry('12', 'data/c-12.js', '//example.com/cover.webp'),
          channelEntry('13', 'data/c-13.js', null),
          channelEntry('14', 'data/c-14.js', null),
        ],
      },
    ],
  };
  writeFileSync(join(gallery, 'data', 'index.js'), js('window.dpsGallery.index', index));
  writeFileSync(
    join(gallery, 'data', 'c-10.js'),
    js('window.dpsGallery.channel', '10', oneItem('https://example.com', 'javascript:window.__pwned=1', 'javascript:window.__pwned=2')),
  );
  // c-12.js registers another channel; c-13.js is missing; c-14.js is of the first version of the format.
  writeFileSync(join(gallery, 'data', 'c-14.js'), js('window.dpsGallery.channel', '14', oneItem('..', null, '1', 1)));
  writeFileSync(join(gallery, 'data', 'c-12.js'), js('window.dpsGallery.channel', '99', oneItem('..', null, '1')));

  const browser = await chromium.launch({ executablePath: CHROMIUM });
  t.teardown(() => browser.close());
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  const offFile: string[] = [];
  const pageErrors: string[] = [];
  page.on('request', (r) => {
    if (!r.url().startsWith('file://')) offFile.push(r.url());
  });
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await context.route(/^(?!file:)/, (route) => route.abort());
  const url = pathToFileURL(join(gallery, 'index.html')).href;
  await page.goto(url);
  await page.locator('.card').first().waitFor();
  t.equal(await page.locator('.card img').count(), 0, 'remote covers are not loaded (placeholders instead)');

  await page.locator('.card[data-channel="10"]').click();
  await page.locator('.cell').first().waitFor();
  t.equal(await page.locator('.cell img').count(), 0, 'a javascript: thumbnail is a placeholder');
  await page.locator('.cell').first().click();
  await page.locator('#lb-title', { hasText: 'evil.png' }).waitFor();
  t.equal(await page.locator('#lb-media img, #lb-media video').count(), 0, 'a remote original is not loaded');
  t.ok(await page.locator('#lb-jump').isHidden(), 'a javascript: jump_url is no link');
  t.equal(await page.locator('#lb-jump').getAttribute('href'), null);
  t.ok(await page.locator('#lb-file').isHidden(), 'a remote file is no link');
  t.ok(await page.locator('#lb-similar-box').isHidden(), 'similar indices out of range are dropped');
  await page.keyboard.press('Escape');

  await page.evaluate('location.hash = "#c=11"');
  await page.locator('.empty', { hasText: 'not a relative path' }).waitFor();
  t.pass('a remote data path is refused');
  await page.evaluate('location.hash = "#c=12"');
  await page.locator('.empty', { hasText: "did not hold this channel's data" }).waitFor();
  t.pass('a data file for another channel is refused');
  await page.evaluate('location.hash = "#c=13"');
  await page.locator('.empty', { hasText: 'Could not load data/c-13.js' }).waitFor();
  t.pass('a missing data file says so');
  await page.evaluate('location.hash = "#c=14"');
  await page.locator('.empty', { hasText: 'data/c-14.js is gallery data version 1, this page reads version 2. Run `dps gallery` again.' }).waitFor();
  t.equal(await page.locator('.cell').count(), 0, 'a data file of another version is refused');

  t.equal(await page.evaluate('window.__pwned'), undefined, 'nothing from the data ran');
  t.same(offFile, [], 'no request left the file system');
  t.same(pageErrors, [], 'no script error');
});

t.test('an index of another version is refused with a message', { skip: chromiumMissing }, async (t) => {
  const gallery = t.testdir();
  copyPage(gallery);
  mkdirSync(join(gallery, 'data'));
  const index = {
    version: 1,
    generated_at: '2024-01-01T00:00:00.000Z',
    servers: [{ id: '1', name: 'S', channels: [channelEntry('10', 'data/c-10.js', null)] }],
  };
  writeFileSync(join(gallery, 'data', 'index.js'), js('window.dpsGallery.index', index));
  const browser = await chromium.launch({ executablePath: CHROMIUM });
  t.teardown(() => browser.close());
  const page = await browser.newPage();
  page.setDefaultTimeout(10_000);
  await page.goto(pathToFileURL(join(gallery, 'index.html')).href);
  await page.locator('.empty', { hasText: 'data/index.js is gallery data version 1, this page reads version 2. Run `dps gallery` again.' }).waitFor();
  t.equal(await page.locator('.card').count(), 0, 'no channel listed from it');
});
