// gallery (issue 25): `dps gallery` at its defaults, measured through the command (so the data format is not the
// bench's business). Thumbnails: a channel scraped from the fake, every archived file then replaced by a real
// picture (JPEG/PNG/WebP of 2-4 MP, some with EXIF orientation 6, some animated GIFs; bench/gallery-images.ts),
// and `dps gallery` (each run on a fresh copy of the state and a fresh gallery folder: decoded results are kept in
// the state) against bench/gallery-baseline.js (sharp with the same thumbnail settings over the same files, as
// many at once, in its own process), interleaved pairs; then 1% new files posted, scraped, replaced by pictures,
// and the second `dps gallery` on the same state and folder. The page: a channel of 200,000 small images scraped
// and `dps gallery` run over it, then the page opened from file:// in headless Chromium (bench/gallery-page.js).

import { spawn } from 'node:child_process';
import { cpSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CLI, channelArgs, log, median, PAIRS, round, rotated, runDps, runScript, scratch, startFake } from '../common.js';
import type { BenchContext, FakeHandle, ProcessRun, Row, ScenarioResult } from '../common.js';
import { cachedPicture, smallPicture } from '../gallery-images.js';

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

export async function galleryScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const images = ctx.quick ? 200 : 2_000;
  const pageImages = ctx.quick ? 20_000 : 200_000;
  const pairs = Math.max(ctx.runs, PAIRS);
  const cores = availableParallelism();
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

  // 2. The page: a channel of `pageImages` small images through the real scrape and `dps gallery`.
  // A failure here (dps gallery itself failing on the big channel) is reported, not thrown: the thumbnails'
  // figures above stand, and the page's targets say why they were not measured.
  try {
    const page = await pageFigures(pageImages, ctx.quick ? 3 : 5);
    rows.push(...page.rows);
    targets.push(...page.targets);
    notes.push(...page.notes);
  } catch (error) {
    const why = `not measured: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`;
    log(`gallery page: ${why}`);
    notes.push(`The page (${pageImages} images): ${why}`);
    for (const target of [
      'first thumbnails painted within 1.5 s of navigation',
      'DOM under 2,000 elements while scrolling to the end',
      `data files for ${pageImages} images under 40 MB`,
    ])
      targets.push({ target, measured: why, met: undefined });
  }

  return {
    name: 'gallery',
    title: 'Gallery',
    command: `dps gallery --state S --out O --gallery-dir G (defaults) vs node dist/bench/gallery-baseline.js (${cores} files at once); the page: node dist/bench/gallery-page.js (headless Chromium through playwright-core)`,
    setup: `thumbnails: ${files.length} archived files, each a distinct picture (${[...mix].map(([k, n]) => `${n} ${k}`).join('; ')}); ${cores} cores; page: one channel of ${pageImages} images (distinct 64x48 PNGs) scraped from the fake and run through dps gallery, viewport 1280x900`,
    rows,
    targets,
    notes,
    measuredAt: new Date().toISOString(),
    quick: ctx.quick,
    runs: pairs,
  };
}

async function pageFigures(n: number, loads: number): Promise<{ rows: Row[]; targets: ScenarioResult['targets']; notes: string[] }> {
  const fake = await startFake({ scenario: { kind: 'channel', messages: n, imageRatio: 1, sizes: [200, 400] }, options: { rateLimit: { off: true } } });
  const dir = await scratch('gallery-page');
  try {
    const scraped = await scrape(fake, dir);
    const files = await manifest(dir.state);
    await replace(files, smallPicture); // every one distinct
    const galleryDir = join(dir.dir, 'gallery');
    const { run, summary } = await gallery(fake, dir.state, dir.out, galleryDir);
    log(`gallery page: ${files.length} files scraped in ${(scraped.wallMs / 1000).toFixed(0)} s, gallery in ${(run.wallMs / 1000).toFixed(0)} s`);
    let dataBytes = 0;
    const sizes = (folder: string): void => {
      for (const entry of readdirSync(folder, { withFileTypes: true })) {
        const path = join(folder, entry.name);
        if (entry.isDirectory()) sizes(path);
        else dataBytes += statSync(path).size;
      }
    };
    sizes(join(galleryDir, 'data'));
    const { result } = await runScript('gallery-page.js', [join(galleryDir, 'index.html'), fake.channel_ids[0]!, String(loads)]);
    const r = result as unknown as { firstPaint: number[]; marks: Array<Record<string, number>>; domMax: number; domMin: number; errors: string[] };
    const mark = (name: string): number[] => r.marks.map((m) => m[name] ?? Number.NaN);
    const paint = median(r.firstPaint);
    return {
      rows: [
        {
          figure: `page: channel of ${summary.files} files; dps gallery wall s (thumbnails made)`,
          value: `${(run.wallMs / 1000).toFixed(1)} (${summary.thumbnails_made})`,
        },
        {
          figure: `page: first thumbnail painted, ms from navigation (median of ${loads} loads, fresh context each)`,
          value: paint.toFixed(0),
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
      notes: r.errors.length > 0 ? [`page errors: ${r.errors.join('; ')}`] : [],
    };
  } finally {
    dir.cleanup();
    await fake.close();
  }
}
