// A thumbnail worker thread (thumb-pool.ts): decodes the files it is sent, one at a time, and answers each.

import { parentPort } from 'node:worker_threads';
import sharp from 'sharp';
import { decodeFile } from './thumbnail.js';
import type { ThumbReply, ThumbTask } from './thumb-pool.js';

sharp.cache(false); // every file is decoded once: libvips' cache would only hold memory
sharp.concurrency(1); // the parallelism is the pool's workers

parentPort?.on('message', (task: ThumbTask) => {
  decodeFile(task.file, task.thumb, task.tempDir).then(
    (decoded) => parentPort?.postMessage({ id: task.id, decoded } satisfies ThumbReply),
    (error: unknown) => parentPort?.postMessage({ id: task.id, error: error instanceof Error ? error.message : String(error) } satisfies ThumbReply),
  );
});
