#!/usr/bin/env node
// Entry point: the CLI is written in TypeScript (bin/cli.ts) and compiled to dist/ by `npm run build`.
import { setFlagsFromString } from 'node:v8';

// A run parses hundreds of megabytes of short-lived JSON pages; left to its defaults V8 lets the young generation
// grow to 32 MB and the old one to ~4x the live heap, so RSS would follow the run's length instead of its
// working set. Keep the young generation at its starting size and grow the old one by 25% at a time
// (bench/RESULTS.md, "Memory"). Flags given on the command line or in NODE_OPTIONS win.
// While downloads run fast the run loosens the old generation's growth (bin/heap-tuning.ts).
const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].join(' ');
const tuneHeap = !/semi-space|heap-growing|optimize-for-size/.test(given);
if (tuneHeap) setFlagsFromString('--semi-space-growth-factor=1 --heap-growing-percent=25');

const { main } = await import('../dist/bin/cli.js');
main(process.argv.slice(2), { tuneHeap });
