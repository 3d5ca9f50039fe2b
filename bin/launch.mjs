// Starts one of the project's commands: the JavaScript build in dist/cli/ (bin/build.mjs, made
// by `npm ci` and `npm run build`) when that build is current, and otherwise the TypeScript
// itself through tsx: an edited source file is never shadowed by an old build, it only starts
// slower. `entry` is the build's entry name, `source` the TypeScript file it is built from.
import { buildIsCurrent } from './build-stamp.mjs';

/** Runs `main(process.argv)` of the command and sets the process exit code. */
export async function launch(entry, source) {
  let main;
  if (buildIsCurrent()) {
    ({ main } = await import(`../dist/cli/${entry}.js`));
  } else {
    if (process.stderr.isTTY) process.stderr.write(`${entry === 'main' ? 'deltachain' : `deltachain-${entry}`}: the source changed since the last build; running it through tsx (slower start; \`npm run build\` makes it quick again)\n`);
    const { register } = await import('tsx/esm/api');
    register();
    ({ main } = await import(source));
  }
  process.exitCode = await main(process.argv);
}
