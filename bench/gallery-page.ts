// `node dist/bench/gallery-page.js <gallery/index.html> <channel id> <loads>`: the gallery page in headless Chromium
// (Debian's, /usr/bin/chromium, through playwright-core), opened from file:// on a channel (#c=<id>), `loads`
// times, each in a fresh browser context. Per load: when the first thumbnail was painted, in ms from navigation
// start (performance.now() in a requestAnimationFrame after the load event of the first `.cell img`: the frame
// that shows it), and the page's own marks (dps-channel-data: the channel's data parsed; dps-grid: the first rows
// in the DOM). Then, once, the element count of the whole document after every step of a scroll to the end (101
// steps over the whole height, then the last screens 97 px at a time: gallery-scroll.ts). Prints one JSON line.

import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { SCROLL_TO_END_COUNTS } from './gallery-scroll.js';

const [index, channel, loadsArg] = process.argv.slice(2);
const loads = Number(loadsArg ?? 5);
const url = `${pathToFileURL(index!).href}#c=${channel}`;
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium' });
const firstPaint: number[] = [];
const marks: Array<Record<string, number>> = [];
let dom: number[] = [];
const errors: string[] = [];
try {
  for (let load = 0; load < loads; load++) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    page.setDefaultTimeout(60_000);
    page.on('pageerror', (e) => errors.push(e.message));
    await page.addInitScript(`document.addEventListener('load', (e) => {
      if (window.__firstThumb === undefined && e.target.matches && e.target.matches('.cell img')) {
        window.__firstThumb = null;
        requestAnimationFrame(() => (window.__firstThumb = performance.now()));
      }
    }, true)`);
    await page.goto(url);
    await page.locator('.cell img').first().waitFor();
    firstPaint.push(
      (await page.evaluate(`new Promise((r) => {
        const at = () => (typeof window.__firstThumb === 'number' ? r(window.__firstThumb) : setTimeout(at, 5));
        at();
      })`)) as number,
    );
    marks.push(Object.fromEntries((await page.evaluate(`performance.getEntriesByType('mark').map((e) => [e.name, e.startTime])`)) as Array<[string, number]>));
    if (load === loads - 1) {
      dom = (await page.evaluate(SCROLL_TO_END_COUNTS)) as number[];
    }
    await context.close();
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify({ firstPaint, marks, domMax: Math.max(...dom), domMin: Math.min(...dom), steps: dom.length, errors }));
