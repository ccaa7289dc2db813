// The gallery page rebuilds the ids the generator packs (data version 3, lib/gallery/channel-data.ts packIds): a
// data file written by the generator's own code, opened in Chromium and Firefox; every cell carries its exact
// attachment id and every lightbox its exact jump link, for the ids of test/helpers/gallery-ids.ts (the first
// file, the same message, far jumps, differences just inside and outside 2^53, leading zeros).

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import type { Test } from 'tap';
import { channelScript, indexScript } from '../../lib/gallery/data-files.js';
import { channelData } from '../../lib/gallery/channel-data.js';
import { ID_CASES } from '../helpers/gallery-ids.js';
import { chromiumMissing, copyPage, VERSION } from './gallery-fixture.js';
import { waitFor } from './page-checks.js';
import { firefoxMissing, launchChromium, launchFirefox } from './page-driver.js';
import type { BrowserDriver } from './page-driver.js';

async function ids(t: Test, launch: () => Promise<BrowserDriver>): Promise<void> {
  const gallery = t.testdir();
  copyPage(gallery);
  mkdirSync(join(gallery, 'data'));
  const base = { author_id: 'A', author_name: 'n', author_display: 'd', content: '', f: 'x.png', n: 'x.png', th: null, k: 0, w: 1, h: 1, d: null, hash: null };
  const files = ID_CASES.map((ids, i) => ({ ...base, ...ids, t: 1704067200 + i }));
  writeFileSync(join(gallery, 'data', 'c-10.js'), channelScript('10', channelData(files, { guild_id: '1', channel_id: '10' })));
  const entry = {
    id: '10',
    name: 'ch',
    kind: 'channel',
    count: files.length,
    first: '2024-01-01T00:00:00.000Z',
    last: '2024-01-01T00:00:00.000Z',
    cover: null,
    data: 'data/c-10.js',
  };
  writeFileSync(
    join(gallery, 'data', 'index.js'),
    indexScript({ version: VERSION, generated_at: '2024-01-01T00:00:00.000Z', servers: [{ id: '1', name: 'S', channels: [entry] }] }),
  );
  const browser = await launch();
  t.teardown(() => browser.close());
  const page = await browser.open(`${pathToFileURL(join(gallery, 'index.html')).href}#c=10`);
  await waitFor(page, '.cell');
  const cells = await page.evaluate<string[]>(`[...document.querySelectorAll('.cell')].map((c) => c.dataset.id)`);
  t.same([...cells].sort(), ID_CASES.map((c) => c.attachment_id).sort(), 'every cell its exact attachment id');
  for (const c of ID_CASES) {
    await page.evaluate(`location.hash = ${JSON.stringify(`#c=10&i=${c.attachment_id}`)}`);
    const jump = `https://discord.com/channels/1/10/${c.message_id}`;
    await page.waitUntil(`document.getElementById('lightbox').open && document.querySelector('#lb-jump').getAttribute('href') === ${JSON.stringify(jump)}`);
    t.pass(`${c.attachment_id}: jump link to message ${c.message_id}`);
  }
  t.same(
    page.watch.errors.filter((e) => e.startsWith('pageerror')),
    [],
    'no script error',
  );
}

for (const [launch, missing] of [
  [launchChromium, chromiumMissing],
  [launchFirefox, firefoxMissing],
] as const) {
  const name = launch === launchChromium ? 'Chromium' : 'Firefox';
  t.test(`the page rebuilds packed ids exactly (${name})`, { skip: missing }, (t) => ids(t, launch));
}
