// gallery (issue 25): `dps gallery` at its defaults, measured through the command (so the data format is not the
// bench's business). Thumbnails: a channel scraped from the fake, every archived file then replaced by a real
// picture (JPEG/PNG/WebP of 2-4 MP, some with EXIF orientation 6, some animated GIFs; bench/gallery-images.ts),
// and `dps gallery` (each run on a fresh copy of the state and a fresh gallery folder: decoded results are kept in
// the state) against bench/gallery-baseline.js (sharp with the same thumbnail settings over the same files, as
// many at once, in its own process), interleaved pairs; then 1% new files posted, scraped, replaced by pictures,
// and the second `dps gallery` on the same state and folder. The page: an archive of 200,000 small images as a
// scrape and a first gallery leave it, written directly (bench/gallery-archive.ts: scraping 200,000 files from the
// fake takes too long), the real `dps gallery` run over it (its data files, index and page), then the page opened
// from file:// in headless Chromium (bench/gallery-page.js). `--only page` runs the page alone and keeps the
// thumbnails' rows of the last result.

import { spawn } from 'node:child_process';
import { cpSync, existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CLI, channelArgs, log, median, PAIRS, RESULTS_DIR, round, rotated, runDps, runProcess, runScript, scratch, startFake } from '../common.js';
import type { BenchContext, FakeHandle, ProcessRun, Row, ScenarioResult } from '../common.js';
import { pageArchive } from '../gallery-archive.js';
import { cachedPicture } from '../gallery-images.js';

interface Saved {
  attachment_id: string;
  path: string;
}

// The saved records of a state (`dps manifest`), streamed: 200,000 of them are too many for one buffer.
function manifest(state: string): Promise<Saved[]> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [CLI, 'manifest', '--state', state], { stdio: ['ignore', 'pipe', 'inherit'] });
    const saved: Saved[] = [];
    createInterface({ input: child.stdout }).on('line', (line) => {
      const r = JSON.parse(line) as { status?: string; path?: string; attachment_id?: string };
      if (r.status === 'saved' && typeof r.path === 'string') saved.push({ attachment_id: String(r.attachment_id), path: r.path });
    });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolvePromise(saved) : reject(new Error(`dps manifest exited ${code}`))));
  });
}

// Replaces each file by a picture: `picture(i)` for the i-th (plus `offset`), a few at a time.
async function replace(files: readonly Saved[], picture: (i: number) => Buffer | Promise<Buffer>, offset = 0): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      for (let i = next++; i < files.length; i = next++) await writeFile(files[i]!.path, await picture(i + offset));
    }),
  );
}

async function scrape(fake: FakeHandle, dir: { out: string; state: string }): Promise<ProcessRun> {
  const r = await runDps(fake, channelArgs(fake, dir));
  if (r.code !== 0) throw new Error(`dps scrape exited ${r.code}: ${r.stderr}`);
  return r;
}

interface GallerySummary {
  files: number;
  thumbnails_made: number;
  thumbnails_kept: number;
  placeholders: number;
  elapsed_ms: number;
}

async function gallery(fake: FakeHandle, state: string, out: string, galleryDir: string): Promise<{ run: ProcessRun; summary: GallerySummary }> {
  const run = await runDps(fake, ['gallery', '--state', state, '--out', out, '--gallery-dir', galleryDir]);
  if (run.code !== 0 || run.summary === undefined) throw new Error(`dps gallery exited ${run.code}: ${run.stderr}`);
  return { run, summary: run.summary as unknown as GallerySummary };
}

const list = (values: readonly number[], digits = 1): string => values.map((v) => v.toFixed(digits)).join(', ');

// The page's targets (their rows' figures start with "page:"): what `--only page` replaces in the last result.
const PAGE_TARGETS = ['first thumbnails painted', 'DOM under 2,000', 'data files for'];
const isPageTarget = (target: string): boolean => PAGE_TARGETS.some((start) => target.startsWith(start));

export async function galleryScenario(ctx: BenchContext): Promise<ScenarioResult> {
  if (ctx.only !== undefined && ctx.only !== 'page') throw new Error(`gallery --only: "page" is the part that runs alone, not ${JSON.stringify(ctx.only)}`);
  const pageImages = ctx.quick ? 20_000 : 200_000;
  const cores = availableParallelism();
  const page = await pagePart(pageImages, ctx.quick ? 3 : 5);
  const pageSetup = `page: an archive of ${pageImages} images (distinct 64x48 PNGs, one a message) written directly as a scrape and a first dps gallery leave it (bench/gallery-archive.ts), then the real dps gallery over it, viewport 1280x900`;
  const command = `dps gallery --state S --out O --gallery-dir G (defaults) vs node dist/bench/gallery-baseline.js (${cores} files at once); the page: node dist/bench/gallery-page.js (headless Chromium through playwright-core)`;
  if (ctx.only === 'page') {
    // The thumbnails' rows, targets and notes of the last full result stay; the page's are this run's.
    const file = join(RESULTS_DIR, `gallery${ctx.quick ? '.quick' : ''}.json`);
    const last = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as ScenarioResult) : undefined;
    const setup = (last?.setup ?? '').split('; page: ')[0];
    // When the thumbnails' rows were measured: the last result's own time, or what its --only page note carried.
    const thumbsAt = (last?.notes ?? []).map((n) => /the thumbnails' rows are from (\S+)\.$/.exec(n)?.[1]).find(Boolean) ?? last?.measuredAt;
    return {
      name: 'gallery',
      title: 'Gallery',
      command,
      setup: setup ? `${setup}; ${pageSetup}` : pageSetup,
      rows: [...(last?.rows ?? []).filter((r) => !r.figure.startsWith('page:')), ...page.rows],
      targets: [...(last?.targets ?? []).filter((t) => !isPageTarget(t.target)), ...page.targets],
      notes: [
        ...(last?.notes ?? []).filter((n) => !n.startsWith('Page:') && !n.startsWith('The page')),
        ...(last ? [`Page: measured alone (--only page) on ${new Date().toISOString()}; the thumbnails' rows are from ${thumbsAt}.`] : []),
        ...page.notes,
      ],
      measuredAt: new Date().toISOString(),
      quick: ctx.quick,
      runs: last?.runs ?? ctx.runs,
    };
  }
  const thumbs = await thumbnailPart(ctx, cores);
  return {
    name: 'gallery',
    title: 'Gallery',
    command,
    setup: `${thumbs.setup}; ${pageSetup}`,
    rows: [...thumbs.rows, ...page.rows],
    targets: [...thumbs.targets, ...page.targets],
    notes: [...thumbs.notes, ...page.notes],
    measuredAt: new Date().toISOString(),
    quick: ctx.quick,
    runs: thumbs.pairs,
  };
}

// 1. Thumbnails: dps gallery against the bare sharp loop, then the second run after 1% new files.
async function thumbnailPart(
  ctx: BenchContext,
  cores: number,
): Promise<{ rows: Row[]; targets: ScenarioResult['targets']; notes: string[]; setup: string; pairs: number }> {
  const images = ctx.quick ? 200 : 2_000;
  const pairs = Math.max(ctx.runs, PAIRS);
  const rows: Row[] = [];
  const targets: ScenarioResult['targets'] = [];
  const notes: string[] = [];

  // 1. Thumbnails.
  // Every file a distinct picture (copies would share their dHash: dps would list each copy as similar to the rest).
  const mix = new Map<string, number>();
  const picture = async (i: number): Promise<Buffer> => {
    const made = await cachedPicture(i);
    mix.set(made.kind, (mix.get(made.kind) ?? 0) + 1);
    return made.bytes;
  };
  const fake = await startFake({
    scenario: { kind: 'channel', messages: images, imageRatio: 1, sizes: [2_000, 4_000] },
    options: { rateLimit: { off: true } },
  });
  const base = await scratch('gallery');
  const dpsRate: number[] = [];
  const dpsElapsedRate: number[] = [];
  const loopRate: number[] = [];
  const ratios: number[] = [];
  const firstMs: number[] = [];
  let incremental: { ms: number; ratio: number; made: number; kept: number; added: number } | undefined;
  let files: Saved[] = [];
  try {
    await scrape(fake, base);
    files = await manifest(base.state);
    await replace(files, picture);
    const listFile = join(base.dir, 'files.json');
    writeFileSync(listFile, JSON.stringify(files.map((f) => f.path)));
    log(`gallery: ${files.length} archived files replaced by distinct pictures`);
    let last: { state: string; galleryDir: string; ms: number } | undefined;
    for (let round = 0; round < pairs; round++) {
      const rate: Record<string, number> = {};
      for (const which of rotated(['dps', 'loop'], round)) {
        const dir = await scratch('gallery-run');
        try {
          if (which === 'dps') {
            const state = join(dir.dir, 'state');
            cpSync(base.state, state, { recursive: true });
            const galleryDir = join(dir.dir, 'gallery');
            const { run, summary } = await gallery(fake, state, base.out, galleryDir);
            if (summary.thumbnails_made !== files.length) throw new Error(`dps gallery made ${summary.thumbnails_made} thumbnails of ${files.length}`);
            rate[which] = files.length / (run.wallMs / 1000);
            dpsElapsedRate.push(files.length / (summary.elapsed_ms / 1000));
            firstMs.push(run.wallMs);
            last = { state, galleryDir, ms: run.wallMs };
          } else {
            const { run } = await runScript('gallery-baseline.js', [listFile, dir.out, String(cores)]);
            rate[which] = files.length / (run.wallMs / 1000);
          }
        } finally {
          dir.cleanup();
        }
      }
      dpsRate.push(rate.dps!);
      loopRate.push(rate.loop!);
      ratios.push(rate.dps! / rate.loop!);
      log(
        `gallery pair ${round + 1}: dps ${rate.dps!.toFixed(1)} files/s, bare loop ${rate.loop!.toFixed(1)} files/s (ratio ${(rate.dps! / rate.loop!).toFixed(3)})`,
      );
    }
    // 1% new files: posted, scraped into the last run's state, replaced by pictures, and the gallery again.
    if (last !== undefined) {
      const added = Math.max(1, Math.round(files.length / 100));
      for (let i = 0; i < added; i++) await fake.request({ type: 'post', channelId: fake.channel_ids[0]!, attachments: 1, size: 3_000 });
      await scrape(fake, { out: base.out, state: last.state });
      const known = new Set(files.map((f) => f.path));
      const fresh = (await manifest(last.state)).filter((f) => !known.has(f.path));
      await replace(fresh, picture, files.length);
      const { run, summary } = await gallery(fake, last.state, base.out, last.galleryDir);
      incremental = { ms: run.wallMs, ratio: run.wallMs / last.ms, made: summary.thumbnails_made, kept: summary.thumbnails_kept, added: fresh.length };
      log(`gallery: second run after ${fresh.length} new files: ${run.wallMs.toFixed(0)} ms (${(incremental.ratio * 100).toFixed(1)}% of the first)`);
    }
  } finally {
    base.cleanup();
    await fake.close();
  }
  const ratio = median(ratios);
  rows.push(
    {
      figure: `dps gallery files/s (files / wall clock of \`node bin/dps.js gallery\`, process start included)`,
      value: median(dpsRate).toFixed(1),
      runs: list(dpsRate),
    },
    {
      figure: "dps gallery files/s from its summary's elapsed_ms (state read and data files written included)",
      value: median(dpsElapsedRate).toFixed(1),
      runs: list(dpsElapsedRate),
    },
    {
      figure: `bare loop files/s (bench/gallery-baseline.js: sharp, ${cores} files at once, wall clock of its process)`,
      value: median(loopRate).toFixed(1),
      runs: list(loopRate),
    },
    {
      figure: `ratio dps / bare loop, files/s (median of ${ratios.length} interleaved pairs; spread ${Math.min(...ratios).toFixed(3)}-${Math.max(...ratios).toFixed(3)})`,
      value: ratio.toFixed(3),
      runs: list(ratios, 3),
    },
  );
  targets.push({
    target: 'thumbnails >= 0.85 x the bare sharp loop files/s (same files, settings, parallelism)',
    measured: round(ratio, 3).toFixed(3),
    met: ratio >= 0.85,
  });
  if (incremental !== undefined) {
    rows.push({
      figure: `second dps gallery after ${incremental.added} new files (1%): wall ms / the first run's (same state and folder); thumbnails made / kept`,
      value: `${incremental.ms.toFixed(0)} ms, ${incremental.ratio.toFixed(3)}; ${incremental.made} / ${incremental.kept}`,
    });
    targets.push({
      target: 'the second run after 1% new files takes <= 5% of the first',
      measured: incremental.ratio.toFixed(3),
      met: incremental.ratio <= 0.05,
    });
  }

  const setup = `thumbnails: ${files.length} archived files, each a distinct picture (${[...mix].map(([k, n]) => `${n} ${k}`).join('; ')}); ${cores} cores`;
  return { rows, targets, notes, setup, pairs };
}

// 2. The page. A failure here (dps gallery itself failing on the big channel) is reported, not thrown: the
// thumbnails' figures stand, and the page's targets say why they were not measured.
async function pagePart(n: number, loads: number): Promise<{ rows: Row[]; targets: ScenarioResult['targets']; notes: string[] }> {
  try {
    return await pageFigures(n, loads);
  } catch (error) {
    const why = `not measured: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`;
    log(`gallery page: ${why}`);
    return {
      rows: [],
      targets: [
        `first thumbnails painted within 1.5 s of navigation (a channel of ${n} images)`,
        'DOM under 2,000 elements while scrolling to the end',
        `data files for ${n} images under 40 MB`,
      ].map((target) => ({ target, measured: why, met: undefined })),
      notes: [`Page: ${n} images: ${why}`],
    };
  }
}

// The page of a channel of `n` images: the archive (bench/gallery-archive.ts) with this dps's data files, index and
// page (the thumbnails stay: the first gallery run made them), written by the real `dps gallery`, then opened
// `loads` times in Chromium.
async function pageFigures(n: number, loads: number): Promise<{ rows: Row[]; targets: ScenarioResult['targets']; notes: string[] }> {
  const archive = await pageArchive(n);
  const galleryDir = archive.galleryDir;
  for (const name of ['data', 'index.html', 'unpack.js', 'app.js', 'app.css']) rmSync(join(galleryDir, name), { recursive: true, force: true });
  const run = await runProcess(process.execPath, [CLI, 'gallery', '--state', archive.state, '--out', archive.out, '--gallery-dir', galleryDir, '--quiet']);
  const summary = run.summary as unknown as GallerySummary | undefined;
  if (run.code !== 0 || summary === undefined) throw new Error(`dps gallery exited ${run.code}: ${run.stderr}`);
  // The archive must be what a scrape and a first gallery leave: every file shown, every thumbnail already made.
  if (summary.files !== n || summary.thumbnails_made !== 0 || summary.placeholders !== 0)
    throw new Error(`dps gallery over the written archive: ${JSON.stringify(summary)} (expected ${n} files, none to decode)`);
  log(`gallery page: dps gallery over ${summary.files} files in ${(run.wallMs / 1000).toFixed(1)} s`);
  let dataBytes = 0;
  const sizes = (folder: string): void => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) sizes(path);
      else dataBytes += statSync(path).size;
    }
  };
  sizes(join(galleryDir, 'data'));
  const load = loadavg()[0]!;
  const { result } = await runScript('gallery-page.js', [join(galleryDir, 'index.html'), archive.channelId, String(loads)]);
  const r = result as unknown as {
    firstPaint: number[];
    elementPaint: number[];
    marks: Array<Record<string, number>>;
    domMax: number;
    domMin: number;
    errors: string[];
  };
  const mark = (name: string): number[] => r.marks.map((m) => m[name] ?? Number.NaN);
  const paint = median(r.elementPaint);
  log(
    `gallery page: first thumbnail painted ${list(r.elementPaint, 0)} ms (Element Timing), ${list(r.firstPaint, 0)} ms (frame after its load); DOM ${r.domMin}-${r.domMax}; data ${(dataBytes / 1e6).toFixed(1)} MB`,
  );
  return {
    rows: [
      {
        figure: `page: archive of ${n} images written directly (bench/gallery-archive.ts), s (0: reused from an earlier run)`,
        value: (archive.buildMs / 1000).toFixed(0),
      },
      {
        figure: `page: dps gallery over it, wall s (files; thumbnails made / kept)`,
        value: `${(run.wallMs / 1000).toFixed(1)} (${summary.files}; ${summary.thumbnails_made} / ${summary.thumbnails_kept})`,
      },
      {
        figure: `page: first thumbnail painted, ms from navigation (Element Timing renderTime through a PerformanceObserver; median of ${loads} loads, fresh context each)`,
        value: paint.toFixed(0),
        runs: list(r.elementPaint, 0),
      },
      {
        figure: 'page: the frame after the first thumbnail loaded (requestAnimationFrame after its load event), ms from navigation',
        value: median(r.firstPaint).toFixed(0),
        runs: list(r.firstPaint, 0),
      },
      {
        figure: "page: mark dps-channel-data (the channel's data parsed), ms",
        value: median(mark('dps-channel-data')).toFixed(0),
        runs: list(mark('dps-channel-data'), 0),
      },
      { figure: 'page: mark dps-grid (first rows in the DOM), ms', value: median(mark('dps-grid')).toFixed(0), runs: list(mark('dps-grid'), 0) },
      { figure: 'page: DOM elements while scrolling to the end (min-max over 121 steps)', value: `${r.domMin}-${r.domMax}` },
      { figure: 'page: data files (gallery/data/, all of them), MB', value: (dataBytes / 1e6).toFixed(1) },
    ],
    targets: [
      {
        target: `first thumbnails painted within 1.5 s of navigation (a channel of ${summary.files} images)`,
        measured: `${paint.toFixed(0)} ms`,
        met: paint <= 1500,
      },
      { target: 'DOM under 2,000 elements while scrolling to the end', measured: String(r.domMax), met: r.domMax < 2000 },
      { target: `data files for ${summary.files} images under 40 MB`, measured: `${(dataBytes / 1e6).toFixed(1)} MB`, met: dataBytes < 40e6 },
    ],
    notes: [
      `Page: 1-minute load average ${load.toFixed(1)} when the page was opened (2 cores shared).`,
      ...(r.errors.length > 0 ? [`Page: errors in the page: ${r.errors.join('; ')}`] : []),
    ],
  };
}
