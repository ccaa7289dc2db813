// `node dist/bench/fs-floor.js [dir] [files]`: what creating small files costs on this machine's file system,
// without dps: 8 at once, each 20 KB opened, hashed, written, closed and renamed; with and without fsync of the
// file and its folder. Prints wall time and CPU time per file (the floor under dps's per-file cost).

import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = process.argv[2] ?? join(tmpdir(), 'dps-fs-floor');
const files = Number(process.argv[3] ?? 2000);
const concurrency = 8;
const data = randomBytes(20_000);

async function run(durable: boolean): Promise<{ wallUs: number; cpuUs: number }> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  let next = 0;
  const started = performance.now();
  const cpu = process.cpuUsage();
  const worker = async (): Promise<void> => {
    while (next < files) {
      const i = next++;
      const temp = join(dir, `.t${i}`);
      const handle = await fs.open(temp, 'wx');
      createHash('sha256').update(data).digest('hex');
      await handle.write(data);
      if (durable) await handle.sync();
      await handle.close();
      await fs.rename(temp, join(dir, `f${i}`));
      if (durable) {
        const folder = await fs.open(dir, 'r');
        await folder.sync();
        await folder.close();
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const used = process.cpuUsage(cpu);
  return { wallUs: ((performance.now() - started) * 1000) / files, cpuUs: (used.user + used.system) / files };
}

for (const durable of [false, true]) {
  const { wallUs, cpuUs } = await run(durable);
  process.stdout.write(
    `${dir}: ${files} files of 20 KB, ${concurrency} at once, ${durable ? 'with' : 'without'} fsync: ${wallUs.toFixed(0)} us wall, ${cpuUs.toFixed(0)} us CPU per file\n`,
  );
}
rmSync(dir, { recursive: true, force: true });
