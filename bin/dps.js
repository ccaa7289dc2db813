#!/usr/bin/env node
// Entry point: the CLI is written in TypeScript (bin/cli.ts) and compiled to dist/ by `npm run build`.
import { setFlagsFromString } from 'node:v8';

// A run parses hundreds of megabytes of short-lived JSON pages; left to its defaults V8 lets the old generation
// grow to several times the live heap, so RSS would follow the run's length instead of its working set. Grow it
// by 25% at a time (read at every GC, so it can be set here; bench/RESULTS.md, "Memory"), and let the run loosen
// that while downloads arrive fast (bin/heap-tuning.ts). Flags given on the command line or in NODE_OPTIONS win.
const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].join(' ');
const tuneHeap = !/semi-space|heap-growing|optimize-for-size/.test(given);
if (tuneHeap) setFlagsFromString('--heap-growing-percent=25');

const { main } = await import('../dist/bin/cli.js');
main(process.argv.slice(2), { tuneHeap });
