// `node dist/bench/gallery-pool.js [files] [rounds]`: thumbnails per second of dps gallery's decoding
// (lib/gallery/thumb-pool.ts) with worker threads (one per core, sharp.concurrency(1) each) against the same
// decoding in the main thread (as many files at once as cores, sharp's own thread count), in interleaved rounds
// over the same photos (1600x1200 JPEGs made with sharp). Decides the pool's default (bench/limits.md).

import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { runThumbPool } from '../lib/gallery/thumb-pool.js';

const files = Number(process.argv[2] ?? 200);
const rounds = Number(process.argv[3] ?? 3);
const dir = join(tmpdir(), 'dps-gallery-pool');

async function photos(): Promise<string[]> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'in'), { recursive: true });
  const paths: string[] = [];
  for (let i = 0; i < files; i++) {
    const blocks = Buffer.alloc(16 * 12 * 3);
    for (let b = 0; b < blocks.length; b++) blocks[b] = (i * 7919 + b * 104729) % 256;
    const bytes = await sharp(blocks, { raw: { width: 16, height: 12, channels: 3 } })
      .resize(1600, 1200, { kernel: 'cubic' })
      .jpeg({ quality: 88 })
      .toBuffer();
    const path = join(dir, 'in', `${i}.jpg`);
    writeFileSync(path, bytes);
    paths.push(path);
  }
  return paths;
}

async function round(paths: string[], workers: number, name: string): Promise<number> {
  const out = join(dir, `out-${name}`);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(join(out, 'tmp'), { recursive: true });
  const tasks = paths.map((file, i) => ({ file, thumb: join(out, `${i}.webp`), tempDir: join(out, 'tmp') }));
  const started = performance.now();
  let failed = 0;
  await runThumbPool(tasks, (_, result) => void ('error' in result && failed++), { workers });
  const seconds = (performance.now() - started) / 1000;
  if (failed > 0) throw new Error(`${failed} files failed`);
  return files / seconds;
}

const paths = await photos();
const cores = availableParallelism();
const results: Record<string, number[]> = { workers: [], 'main thread': [] };
for (let r = 0; r < rounds; r++) {
  const order = r % 2 === 0 ? (['workers', 'main thread'] as const) : (['main thread', 'workers'] as const);
  for (const name of order) results[name]?.push(await round(paths, name === 'workers' ? cores : 0, name.replace(' ', '-')));
}
console.log(
  `${files} photos 1600x1200, ${cores} cores, sharp.concurrency() ${sharp.concurrency()}, UV_THREADPOOL_SIZE ${process.env.UV_THREADPOOL_SIZE ?? '(4)'}`,
);
for (const [name, rates] of Object.entries(results)) console.log(`${name}: ${rates.map((r) => r.toFixed(1)).join(' ')} files/s`);
rmSync(dir, { recursive: true, force: true });
