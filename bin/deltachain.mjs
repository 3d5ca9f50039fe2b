#!/usr/bin/env node
// The `deltachain` command. The project is TypeScript run through tsx's loader, so a clean
// clone needs only `npm ci` before this works (no build step to forget or to go stale).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./main.ts');
process.exitCode = await main(process.argv);
