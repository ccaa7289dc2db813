// The gallery page against hostile data files (issue 25): absolute and javascript: URLs where the contract has
// relative paths or a Discord link are never loaded nor linked, a data path off the file system loads nothing, a
// data file that registers the wrong channel or is missing gives a message; no request leaves the file system.
// In Chromium and Firefox (page-driver.ts).

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import type { Test } from 'tap';
import { chromiumMissing, copyPage, js, VERSION } from './gallery-fixture.js';
import { count, visible, waitFor, waitText } from './page-checks.js';
import { firefoxMissing, launchChromium, launchFirefox } from './page-driver.js';
import type { BrowserDriver } from './page-driver.js';

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

// Hostile paths and links in the data files, in one browser.
async function hostilePaths(t: Test, launch: () => Promise<BrowserDriver>): Promise<void> {
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

  const browser = await launch();
  t.teardown(() => browser.close());
  const page = await browser.open(pathToFileURL(join(gallery, 'index.html')).href);
  await waitFor(page, '.card');
  t.equal(await count(page, '.card img'), 0, 'remote covers are not loaded (placeholders instead)');

  await page.click('.card[data-channel="10"]');
  await waitFor(page, '.cell');
  t.equal(await count(page, '.cell img'), 0, 'a javascript: thumbnail is a placeholder');
  await page.click('.cell');
  await waitText(page, '#lb-title', 'evil.png');
  t.equal(await count(page, '#lb-media img, #lb-media video'), 0, 'a remote original is not loaded');
  t.notOk(await visible(page, '#lb-jump'), 'a javascript: jump_url is no link');
  t.equal(await page.evaluate(`document.querySelector('#lb-jump').getAttribute('href')`), null);
  t.notOk(await visible(page, '#lb-file'), 'a remote file is no link');
  t.notOk(await visible(page, '#lb-similar-box'), 'similar indices out of range are dropped');
  await page.press('Escape');

  await page.evaluate('location.hash = "#c=11"');
  await waitText(page, '.empty', 'not a relative path');
  t.pass('a remote data path is refused');
  await page.evaluate('location.hash = "#c=12"');
  await waitText(page, '.empty', "did not hold this channel's data");
  t.pass('a data file for another channel is refused');
  await page.evaluate('location.hash = "#c=13"');
  await waitText(page, '.empty', 'Could not load data/c-13.js');
  t.pass('a missing data file says so');
  await page.evaluate('location.hash = "#c=14"');
  await waitText(page, '.empty', 'data/c-14.js is gallery data version 1, this page reads version 3. Run `dps gallery` again.');
  t.equal(await count(page, '.cell'), 0, 'a data file of another version is refused');

  t.equal(await page.evaluate('window.__pwned ?? null'), null, 'nothing from the data ran');
  t.same(
    page.watch.requests.filter((u) => !u.startsWith('file://')),
    [],
    'no request left the file system',
  );
  t.same(
    page.watch.errors.filter((e) => e.startsWith('pageerror')),
    [],
    'no script error',
  );
}

// An index of another version: a message, no channel.
async function otherVersion(t: Test, launch: () => Promise<BrowserDriver>): Promise<void> {
  const gallery = t.testdir();
  copyPage(gallery);
  mkdirSync(join(gallery, 'data'));
  const index = {
    version: 1,
    generated_at: '2024-01-01T00:00:00.000Z',
    servers: [{ id: '1', name: 'S', channels: [channelEntry('10', 'data/c-10.js', null)] }],
  };
  writeFileSync(join(gallery, 'data', 'index.js'), js('window.dpsGallery.index', index));
  const browser = await launch();
  t.teardown(() => browser.close());
  const page = await browser.open(pathToFileURL(join(gallery, 'index.html')).href);
  await waitText(page, '.empty', 'data/index.js is gallery data version 1, this page reads version 3. Run `dps gallery` again.');
  t.equal(await count(page, '.card'), 0, 'no channel listed from it');
}

for (const [launch, missing] of [
  [launchChromium, chromiumMissing],
  [launchFirefox, firefoxMissing],
] as const) {
  const name = launch === launchChromium ? 'Chromium' : 'Firefox';
  t.test(`hostile paths and links in the data files (${name})`, { skip: missing }, (t) => hostilePaths(t, launch));
  t.test(`an index of another version is refused with a message (${name})`, { skip: missing }, (t) => otherVersion(t, launch));
}
