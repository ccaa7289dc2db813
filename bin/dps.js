#!/usr/bin/env node
// Entry point: the CLI is written in TypeScript (bin/cli.ts) and compiled to dist/ by `npm run build`.
// libuv's thread pool, read when it first starts: 16 threads instead of 4, so that the disk thread's groups of
// fsyncs run together and share the file system's journal commits (lib/fs/disk-thread-worker.ts). A user's value wins.
process.env.UV_THREADPOOL_SIZE ??= '16';
// V8's heap policy is set before the CLI loads (bin/heap-tuning.ts); flags the user gives V8 win.
const { startHeapPolicy } = await import('../dist/bin/heap-tuning.js');
const tuneHeap = startHeapPolicy(process.execArgv, process.env.NODE_OPTIONS);

const { main } = await import('../dist/bin/cli.js');
main(process.argv.slice(2), { tuneHeap });
