#!/usr/bin/env node
// The `deltachain` command. It runs the JavaScript build in dist/cli/ (bin/build.mjs, made by
// `npm ci` and `npm run build`) when that build is current, and otherwise the TypeScript itself
// through tsx: an edited source file is never shadowed by an old build, it only starts slower.
import { buildIsCurrent } from './build-stamp.mjs';

let main;
if (buildIsCurrent()) {
  ({ main } = await import('../dist/cli/main.js'));
} else {
  if (process.stderr.isTTY) process.stderr.write('deltachain: the source changed since the last build; running it through tsx (slower start; `npm run build` makes it quick again)\n');
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('./main.ts'));
}
process.exitCode = await main(process.argv);
