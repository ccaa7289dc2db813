#!/usr/bin/env node
// Entry point: the CLI is written in TypeScript (bin/cli.ts) and compiled to dist/ by `npm run build`.
import { main } from '../dist/bin/cli.js';

main(process.argv.slice(2));
