// `node dist/bench/gallery-page.js <gallery/index.html> <channel id> <loads>`: the gallery page in headless Chromium
// (Debian's, /usr/bin/chromium, through playwright-core), opened from file:// on a channel (#c=<id>), `loads`
// times, each in a fresh browser context. Per load: when the first thumbnail was painted, in ms from navigation
// start, twice: the browser's own paint time of the first thumbnail (Element Timing: each `.cell img` is given an
// `elementtiming` attribute as it enters the document, and a PerformanceObserver takes the first entry's
// renderTime), and performance.now() in a requestAnimationFrame after the load event of the first `.cell img`
// (the frame that shows it); and the page's own marks (dps-channel-data: the channel's data parsed; dps-grid: the first rows
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
const elementPaint: number[] = [];
const marks: Array<Record<string, number>> = [];
let dom: number[] = [];
const errors: string[] = [];
try {
  for (let load = 0; load < loads; load++) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    page.setDefaultTimeout(60_000);
    page.on('pageerror', (e) => errors.push(e.message));
    await page.addInitScript(`new MutationObserver((records) => {
      for (const r of records) for (const n of r.addedNodes)
        if (n.nodeType === 1) for (const img of n.matches('.cell img') ? [n] : n.querySelectorAll('.cell img')) img.setAttribute('elementtiming', 'thumb');
    }).observe(document, { childList: true, subtree: true });
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) if (e.identifier === 'thumb' && window.__elementPaint === undefined) window.__elementPaint = e.renderTime || e.loadTime;
    }).observe({ type: 'element', buffered: true });
    document.addEventListener('load', (e) => {
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
    elementPaint.push(
      (await page.evaluate(`new Promise((r) => {
        const at = () => (typeof window.__elementPaint === 'number' ? r(window.__elementPaint) : setTimeout(at, 5));
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
console.log(JSON.stringify({ firstPaint, elementPaint, marks, domMax: Math.max(...dom), domMin: Math.min(...dom), steps: dom.length, errors }));
