// The thumbnail pool: as many files decoded at once as there are cores, in this thread (sharp works on libuv's
// thread pool: the default, it measured faster, bench/limits.md) or in worker threads (thumb-worker.ts), fed
// from one list of tasks. Each result goes to `onResult` as it arrives; an abort stops handing out files (those
// in flight finish).

import os from 'node:os';
import { Worker } from 'node:worker_threads';
import sharp from 'sharp';
import type { Decoded } from './thumbnail.js';
import { decodeFile } from './thumbnail.js';

export interface ThumbTask {
  id: number;
  file: string;
  thumb: string | null;
  tempDir: string;
}

export type ThumbReply = { id: number; decoded: Decoded } | { id: number; error: string };

export interface PoolOptions {
  // Worker threads, one file in flight each; 0 (the default) decodes in this thread, one file per core at once.
  workers?: number | undefined;
  signal?: AbortSignal | undefined;
}

// Files decoded at once: one per core.
export function defaultWorkers(): number {
  return Math.max(1, os.availableParallelism());
}

// Decodes every task, `workers` at a time; resolves once each has been answered (or, aborted, once those in
// flight have). A worker that dies fails the whole pool (its error rejects).
export async function runThumbPool(
  tasks: ReadonlyArray<Omit<ThumbTask, 'id'>>,
  onResult: (index: number, result: { decoded: Decoded } | { error: string }) => void | Promise<void>,
  options: PoolOptions = {},
): Promise<void> {
  const count = Math.min(tasks.length, options.workers ?? 0);
  let next = 0;
  const take = (): number | undefined => (options.signal?.aborted || next >= tasks.length ? undefined : next++);
  if (count === 0 && tasks.length > 0) {
    sharp.cache(false); // every file is decoded once: libvips' cache would only hold memory
    const lanes = Array.from({ length: Math.min(tasks.length, defaultWorkers()) }, async () => {
      for (let i = take(); i !== undefined; i = take()) {
        const task = tasks[i] as Omit<ThumbTask, 'id'>;
        const result = await decodeFile(task.file, task.thumb, task.tempDir).then(
          (decoded) => ({ decoded }),
          (error: unknown) => ({ error: error instanceof Error ? error.message : String(error) }),
        );
        await onResult(i, result);
      }
    });
    await Promise.all(lanes);
    return;
  }
  if (count === 0) return;
  // Compiled, this file is dist/lib/gallery/thumb-pool.js beside the worker's .js; under the test runner both are .ts.
  const extension = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  const url = new URL(`./thumb-worker${extension}`, import.meta.url);
  const workers = Array.from({ length: count }, () => new Worker(url));
  try {
    await Promise.all(workers.map((worker) => feed(worker, tasks, take, onResult)));
  } finally {
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
}

// One worker's loop: a task, its answer, the next task.
function feed(
  worker: Worker,
  tasks: ReadonlyArray<Omit<ThumbTask, 'id'>>,
  take: () => number | undefined,
  onResult: (index: number, result: { decoded: Decoded } | { error: string }) => void | Promise<void>,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const send = (): void => {
      const id = take();
      if (id === undefined) {
        cleanup();
        resolve();
        return;
      }
      worker.postMessage({ id, ...(tasks[id] as Omit<ThumbTask, 'id'>) } satisfies ThumbTask);
    };
    const onMessage = (reply: ThumbReply): void => {
      Promise.resolve(onResult(reply.id, 'decoded' in reply ? { decoded: reply.decoded } : { error: reply.error })).then(send, fail);
    };
    const fail = (error: unknown): void => {
      cleanup();
      reject(error instanceof Error ? error : new Error(String(error)));
    };
    const onError = (error: Error): void => fail(new Error(`a thumbnail worker failed: ${error.message}`, { cause: error }));
    const onExit = (code: number): void => fail(new Error(`a thumbnail worker stopped (exit code ${code})`));
    const cleanup = (): void => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
    send();
  });
}
