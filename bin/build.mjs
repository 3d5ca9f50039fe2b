#!/usr/bin/env node
// Builds the `deltachain` and `deltachain-lab` commands into dist/cli/ (`npm run build`; npm runs
// it on `npm ci` as `prepare`, and `npm test` before the tests when the source changed).
// bin/main.ts (main.js) and lab/main.ts (lab.js) and what they import are bundled by esbuild into
// ES modules, split at every `import()`: a command loads the registration of every command plus
// its own action's code, nothing else, and no TypeScript is compiled at start. The two entries
// share chunks of common code only; nothing reachable from main.js is lab code. bin/launch.mjs
// runs this build only while build-stamp.mjs finds it current, and the TypeScript through tsx
// otherwise.
//
// Packages stay in node_modules (imported at run time as under tsx) except BUNDLED: those a quick
// command loads, where reading and compiling one file instead of hundreds is most of the gain
// (gRPC for every control-API command). A package that reads its own files at run time must
// stay out: a bundle has no `__dirname` (grpc-js uses it only for its channelz and ORCA admin
// services, which we do not serve).
//
// Usage: node bin/build.mjs [--if-stale] [--outdir DIR]   (DIR: a build elsewhere, for tests)
import { readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { DIST, ROOT, STAMP, buildIsCurrent, fileStamp } from './build-stamp.mjs';

export const BUNDLED_PACKAGES = ['commander', '@grpc/grpc-js', '@bufbuild/protobuf'];
/** Left out even where a bundled package imports it: grpc-js loads it only for its admin services. */
const NEVER_BUNDLED = ['@grpc/proto-loader'];

/** What the build depends on besides the source files esbuild reads. */
const BUILD_INPUTS = ['tsconfig.json', 'package.json', 'bin/build.mjs', 'bin/build-stamp.mjs', 'node_modules/.package-lock.json'];

/** Builds into `dist` (default dist/cli); returns esbuild's metafile. */
export async function buildCli({ root = ROOT, dist = DIST } = {}) {
  rmSync(`${dist}/${STAMP}`, { force: true }); // until the new stamp is written, the build is not current
  const esbuild = await import('esbuild'); // here, so that `--if-stale` on a current build costs no more than a stat of each file
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: { main: 'bin/main.ts', lab: 'lab/main.ts' }, // two commands: deltachain and deltachain-lab
    outdir: dist,
    entryNames: '[name]',
    chunkNames: '[name]-[hash]',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: 'linked', // not read unless node runs with --enable-source-maps
    metafile: true,
    logLevel: 'warning',
    // Bundled CommonJS packages call require() for Node's modules; ES modules have none.
    banner: { js: "import { createRequire as __deltachainRequire } from 'node:module';\nconst require = __deltachainRequire(import.meta.url);" },
    plugins: [onlyBundled(BUNDLED_PACKAGES), sourceLocation(dist)],
  });
  prune(root, dist, result.metafile);
  writeStamp(root, dist, result.metafile);
  return result.metafile;
}

/** Leaves every package out of the bundle but `names` (and what those import). */
function onlyBundled(names) {
  return {
    name: 'only-bundled',
    setup(build) {
      build.onResolve({ filter: /^[^./]/ }, (args) => {
        if (args.kind === 'entry-point' || args.path.startsWith('node:')) return undefined;
        const name = args.path.split('/').slice(0, args.path.startsWith('@') ? 2 : 1).join('/');
        if (NEVER_BUNDLED.includes(name)) return { path: args.path, external: true };
        if (args.importer.includes(`${sep}node_modules${sep}`)) return undefined;
        return names.includes(name) ? undefined : { path: args.path, external: true };
      });
    },
  };
}

/**
 * `import.meta.url` in our code means the source file's location (coordinator/catalog reads its
 * migrations beside it); in a bundle it would be the chunk's. Every chunk lies directly in
 * `dist`, so the source is at the same relative path from each.
 */
function sourceLocation(dist) {
  return {
    name: 'source-location',
    setup(build) {
      build.onLoad({ filter: /\.ts$/ }, (args) => {
        if (args.path.includes(`${sep}node_modules${sep}`)) return undefined;
        const text = readFileSync(args.path, 'utf8');
        if (!text.includes('import.meta.url')) return undefined;
        const fromDist = relative(dist, args.path).split(sep).join('/');
        return { contents: text.replace(/\bimport\.meta\.url\b/g, `new URL(${JSON.stringify(fromDist)}, import.meta.url).href`), loader: 'ts' };
      });
    },
  };
}

/**
 * Removes what earlier builds left. Chunk names carry a content hash, so a process started from an
 * earlier build still finds its chunks while they are here; every `import()` of ours runs while a
 * command starts, so only a process starting during a rebuild could miss one.
 */
function prune(root, dist, metafile) {
  const written = new Set(Object.keys(metafile.outputs).map((p) => relative(dist, `${root}/${p}`)));
  for (const entry of readdirSync(dist)) if (!written.has(entry)) rmSync(`${dist}/${entry}`, { recursive: true, force: true });
  writeFileSync(`${dist}/metafile.json`, JSON.stringify(metafile));
}

/** Written last, and atomically: a build cut short leaves no stamp, so it is never run. */
function writeStamp(root, dist, metafile) {
  const sources = Object.keys(metafile.inputs).filter((p) => !p.split('/').includes('node_modules'));
  const files = [...new Set([...sources, ...BUILD_INPUTS])].map((p) => fileStamp(root, p)).filter((s) => s !== undefined);
  writeFileSync(`${dist}/${STAMP}.tmp`, `{"files": [\n${files.map((f) => JSON.stringify(f)).join(',\n')}\n]}\n`);
  renameSync(`${dist}/${STAMP}.tmp`, `${dist}/${STAMP}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { 'if-stale': { type: 'boolean' }, outdir: { type: 'string' } } });
  const dist = values.outdir === undefined ? DIST : resolve(values.outdir);
  if (values['if-stale'] && buildIsCurrent(ROOT, dist)) process.exit(0);
  const started = performance.now();
  const metafile = await buildCli({ dist });
  const outputs = Object.keys(metafile.outputs).filter((p) => p.endsWith('.js')).length;
  console.log(`deltachain: built ${relative(ROOT, dist)}/ (${outputs} modules) in ${Math.round(performance.now() - started)} ms`);
}
