#!/usr/bin/env node
// Entry point: the CLI is written in TypeScript (bin/cli.ts) and compiled to dist/ by `npm run build`.
// V8's heap policy is set before the CLI loads (bin/heap-tuning.ts); flags the user gives V8 win.
const { startHeapPolicy } = await import('../dist/bin/heap-tuning.js');
const tuneHeap = startHeapPolicy(process.execArgv, process.env.NODE_OPTIONS);

const { main } = await import('../dist/bin/cli.js');
main(process.argv.slice(2), { tuneHeap });
