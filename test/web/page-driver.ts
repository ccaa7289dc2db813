// The gallery page's tests in two browsers (issue 25: "works in Chromium and Firefox") through one small driver:
// Debian's chromium through playwright-core, Debian's firefox-esr through puppeteer-core over WebDriver BiDi
// (Playwright's Firefox needs its own patched build). The checks (page-checks.ts) see only this interface:
// a page they drive with real clicks and keys, read with JavaScript expressions, and watch for requests that
// leave the file system (refused) and for console errors.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';
import type { Page as PlaywrightPage } from 'playwright-core';
import type { Page as PuppeteerPage } from 'puppeteer-core';
import { CHROMIUM } from './gallery-fixture.js';

export const FIREFOX = '/usr/bin/firefox-esr';
export const firefoxMissing = existsSync(FIREFOX) ? false : `Debian's firefox-esr is not at ${FIREFOX} (apt-get install -y firefox-esr)`;

// What a page did that the checks look at: every request the browser reports (file:// ones only where it
// reports them, see `seesFileRequests`), and every console error or warning and uncaught error.
export interface Watch {
  requests: string[];
  errors: string[];
}

export interface PageDriver {
  readonly watch: Watch;
  goto(url: string): Promise<void>;
  reload(): Promise<void>;
  // The value of a JavaScript expression in the page (a promise is awaited); JSON-like values only.
  evaluate<T = unknown>(expression: string): Promise<T>;
  // Resolves once the expression is truthy (polled), or rejects after the timeout.
  waitUntil(expression: string): Promise<void>;
  // A real click on the first element matching the selector (waited for, scrolled into view).
  click(selector: string): Promise<void>;
  press(key: string): Promise<void>;
  // Replaces an input's value as a person would (typing for text; a date input's value, as its picker sets it).
  fill(selector: string, value: string): Promise<void>;
  select(selector: string, value: string): Promise<void>;
  setViewport(width: number, height: number): Promise<void>;
  screenshot(path: string): Promise<void>;
  close(): Promise<void>;
}

export interface BrowserDriver {
  readonly name: 'chromium' | 'firefox';
  // Whether the browser reports file:// requests (Firefox's WebDriver BiDi reports only network ones).
  readonly seesFileRequests: boolean;
  open(url: string, viewport?: { width: number; height: number }): Promise<PageDriver>;
  close(): Promise<void>;
}

const TIMEOUT = 10_000;
const VIEWPORT = { width: 1200, height: 800 };

// A date input's value set the way its picker sets it (an input and a change event): typing into one depends on
// the browser's locale and its segments.
const setDate = (selector: string, value: string): string => `(() => {
  const e = document.querySelector(${JSON.stringify(selector)});
  e.value = ${JSON.stringify(value)};
  e.dispatchEvent(new Event('input', { bubbles: true }));
  e.dispatchEvent(new Event('change', { bubbles: true }));
})()`;
const isDate = (selector: string): string => `document.querySelector(${JSON.stringify(selector)})?.type === 'date'`;

export async function launchChromium(): Promise<BrowserDriver> {
  const browser = await chromium.launch({ executablePath: CHROMIUM });
  return {
    name: 'chromium',
    seesFileRequests: true,
    async open(url, viewport = VIEWPORT) {
      const context = await browser.newContext({ viewport });
      const page = await context.newPage();
      page.setDefaultTimeout(TIMEOUT);
      const watch: Watch = { requests: [], errors: [] };
      page.on('request', (r) => watch.requests.push(r.url()));
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') watch.errors.push(`${m.type()}: ${m.text()}`);
      });
      page.on('pageerror', (e) => watch.errors.push(`pageerror: ${e.message}`));
      // Anything that is not a file is refused (and shows up in watch.requests).
      await context.route(/^(?!file:)/, (route) => route.abort());
      await page.goto(url);
      return playwrightPage(page, watch);
    },
    close: () => browser.close(),
  };
}

function playwrightPage(page: PlaywrightPage, watch: Watch): PageDriver {
  return {
    watch,
    goto: async (url) => void (await page.goto(url)),
    reload: async () => void (await page.reload()),
    evaluate: <T>(expression: string) => page.evaluate(expression) as Promise<T>,
    waitUntil: async (expression) => void (await page.waitForFunction(expression, undefined, { timeout: TIMEOUT })),
    click: (selector) => page.locator(selector).first().click(),
    press: (key) => page.keyboard.press(key),
    fill: (selector, value) => page.locator(selector).first().fill(value),
    select: async (selector, value) => void (await page.locator(selector).first().selectOption(value)),
    setViewport: (width, height) => page.setViewportSize({ width, height }),
    screenshot: async (path) => void (await page.screenshot({ path })),
    close: () => page.context().close(),
  };
}

export async function launchFirefox(): Promise<BrowserDriver> {
  // puppeteer-core's CommonJS build: tap's TypeScript loader resolves one of its ESM imports (chromium-bidi's
  // exports patterns) to a file that does not exist.
  const puppeteer = createRequire(import.meta.url)('puppeteer-core') as typeof import('puppeteer-core').default;
  const browser = await puppeteer.launch({ browser: 'firefox', executablePath: FIREFOX, headless: true });
  return {
    name: 'firefox',
    seesFileRequests: false,
    async open(url, viewport = VIEWPORT) {
      const context = await browser.createBrowserContext();
      const page = await context.newPage();
      page.setDefaultTimeout(TIMEOUT);
      await firefoxViewport(page, viewport);
      const watch: Watch = { requests: [], errors: [] };
      await page.setRequestInterception(true);
      page.on('request', (r) => {
        watch.requests.push(r.url());
        if (r.url().startsWith('file:')) void r.continue();
        else void r.abort(); // anything that is not a file is refused
      });
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warn') watch.errors.push(`${m.type()}: ${m.text()}`);
      });
      page.on('pageerror', (e) => watch.errors.push(`pageerror: ${e instanceof Error ? e.message : String(e)}`));
      await page.goto(url);
      return puppeteerPage(page, watch, () => context.close());
    },
    close: () => browser.close(),
  };
}

function puppeteerPage(page: PuppeteerPage, watch: Watch, close: () => Promise<void>): PageDriver {
  const driver: PageDriver = {
    watch,
    goto: async (url) => void (await page.goto(url)),
    reload: async () => void (await page.reload()),
    evaluate: <T>(expression: string) => page.evaluate(expression) as Promise<T>,
    waitUntil: async (expression) => void (await page.waitForFunction(expression, { timeout: TIMEOUT })),
    click: (selector) => page.locator(selector).click(),
    press: (key) => page.keyboard.press(key as Parameters<PuppeteerPage['keyboard']['press']>[0]),
    async fill(selector, value) {
      await driver.waitUntil(`document.querySelector(${JSON.stringify(selector)})`);
      if (await driver.evaluate<boolean>(isDate(selector))) return void (await driver.evaluate(setDate(selector, value)));
      await page.locator(selector).click();
      await driver.evaluate(`document.querySelector(${JSON.stringify(selector)}).select()`);
      await page.keyboard.press('Backspace');
      if (value !== '') await page.keyboard.type(value);
    },
    select: async (selector, value) => void (await page.select(selector, value)),
    setViewport: (width, height) => firefoxViewport(page, { width, height }),
    screenshot: async (path) => void (await page.screenshot({ path: path as `${string}.png` })),
    close,
  };
  return driver;
}

// puppeteer's setViewport sends the viewport and a screen orientation override together; Firefox 140 ESR knows
// the first and not the second (an unknown command): the viewport is applied, which the page's width confirms.
async function firefoxViewport(page: PuppeteerPage, viewport: { width: number; height: number }): Promise<void> {
  await page.setViewport(viewport).catch((error: unknown) => {
    if (!String(error).includes('setScreenOrientationOverride')) throw error;
  });
  await page.waitForFunction(`innerWidth === ${viewport.width} && innerHeight === ${viewport.height}`, { timeout: TIMEOUT });
}
