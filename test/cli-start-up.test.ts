// The `deltachain` command starts quickly because it runs a JavaScript build (bin/build.mjs) and
// loads only what the command needs: registering the commands imports no heavy package, each
// action imports its own code. Checked here on a fresh build of the current source, by the
// modules each process really loads (not by timing): `--help` loads none of gRPC, NATS,
// Postgres, pino, zod, xen-api, prom-client, nor any lab code; a control-API command loads gRPC
// and none of the others; a running agent loads no coordinator or lab code. `deltachain-lab`
// (the lab, not part of the product) is its own entry of the same build and starts as quickly. And the rule that decides
// whether bin/deltachain.mjs may run the build (build-stamp.mjs): any change to a file the build
// was made from sends it back to the TypeScript.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { buildIsCurrent, fileStamp, STAMP } from '../bin/build-stamp.mjs';
import { PROJECT_ROOT } from './support/vhd-cli.js';

const RECORDER = fileURLToPath(new URL('./support/record-loaded-modules.mjs', import.meta.url));
const HEAVY = ['@grpc/grpc-js', '@nats-io/transport-node', '@nats-io/jetstream', 'postgres', 'pino', 'zod', 'xen-api', 'prom-client'];

interface Metafile {
  inputs: Record<string, unknown>;
  outputs: Record<string, { inputs: Record<string, unknown> }>;
}

interface Started {
  code: number;
  stdout: string;
  stderr: string;
  /** Files (relative to the project) whose code the process loaded, from the build or not. */
  sources: Set<string>;
  /** Loaded modules that were not part of the build (node: modules aside). */
  outsideBuild: string[];
}

function exec(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { cwd: PROJECT_ROOT, env, timeout: 60_000 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') return reject(error);
      resolve({ code: error ? Number(error.code) : 0, stdout, stderr });
    });
  });
}

function packageOf(path: string): string | undefined {
  return /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)?.[1];
}

describe('deltachain start-up (a fresh build of the current source)', { timeout: 120_000 }, () => {
  let dist: string;
  let metafile: Metafile;
  let run: (args: string[], which?: 'main' | 'lab') => Promise<Started>;

  before(async () => {
    await mkdir(join(PROJECT_ROOT, 'tmp'), { recursive: true });
    // Inside the project, so that the packages left out of the bundle resolve from node_modules.
    dist = await mkdtemp(join(PROJECT_ROOT, 'tmp', 'cli-build-'));
    const built = await exec(['bin/build.mjs', '--outdir', dist]);
    assert.equal(built.code, 0, built.stderr);
    metafile = JSON.parse(await readFile(join(dist, 'metafile.json'), 'utf8')) as Metafile;
    const entries = { main: join(dist, 'run.mjs'), lab: join(dist, 'run-lab.mjs') };
    for (const [name, entry] of Object.entries(entries)) await writeFile(entry, `import { main } from './${name}.js';\nprocess.exitCode = await main(process.argv);\n`);
    let n = 0;
    run = async (args, which = 'main') => {
      const entry = entries[which];
      const log = join(dist, `loaded-${n++}.txt`);
      const result = await exec(['--import', RECORDER, entry, ...args], { ...process.env, LOADED_MODULES_LOG: log });
      const urls = (await readFile(log, 'utf8')).split('\n').filter((u) => u.startsWith('file:'));
      const sources = new Set<string>();
      const outsideBuild: string[] = [];
      for (const url of urls) {
        const output = metafile.outputs[relative(PROJECT_ROOT, fileURLToPath(url))];
        if (output) Object.keys(output.inputs).forEach((i) => sources.add(i));
        else if (url !== pathToFileURL(entry).href) outsideBuild.push(relative(PROJECT_ROOT, fileURLToPath(url)));
      }
      outsideBuild.forEach((p) => sources.add(p));
      return { ...result, sources, outsideBuild };
    };
  });
  after(async () => {
    if (dist) await rm(dist, { recursive: true, force: true });
  });

  const packagesOf = (started: Started): Set<string> => new Set([...started.sources].map(packageOf).filter((p) => p !== undefined));

  it('--help lists every area and loads none of the heavy packages, only the build and commander', async () => {
    const help = await run(['--help']);
    assert.equal(help.code, 0, help.stderr);
    for (const command of ['vhd', 'agent', 'coordinator', 'policy', 'restore']) assert.match(help.stdout, new RegExp(`^  ${command}\\b`, 'm'));
    assert.doesNotMatch(help.stdout, /^  lab\b/m, 'the lab is deltachain-lab, not part of the product');
    assert.deepEqual(help.outsideBuild, [], 'every module comes from the build (no TypeScript compiled, no package file read)');
    assert.deepEqual([...packagesOf(help)], ['commander']);
    assert.ok(![...help.sources].some((s) => /^(coordinator\/(service|catalogue|api)|agent\/(host|storage))/.test(s)), 'no action code');
    assert.deepEqual([...help.sources].filter((s) => s.startsWith('lab/')), [], 'no lab code');
  });

  it('nothing the deltachain entry can load is lab code: main.js and every chunk it imports, statically or not', () => {
    const outputs = metafile.outputs as Record<string, { inputs: Record<string, unknown>; imports?: { path: string }[] }>;
    const reached = new Set<string>();
    const visit = (path: string): void => {
      if (reached.has(path) || outputs[path] === undefined) return;
      reached.add(path);
      for (const i of outputs[path].imports ?? []) visit(i.path);
    };
    visit(relative(PROJECT_ROOT, join(dist, 'main.js')));
    assert.ok(reached.size > 1);
    assert.deepEqual([...reached].flatMap((o) => Object.keys(outputs[o]!.inputs).filter((i) => i.startsWith('lab/'))), []);
  });

  it('deltachain-lab --help lists the lab commands and loads only the build and commander', async () => {
    const help = await run(['--help'], 'lab');
    assert.equal(help.code, 0, help.stderr);
    for (const command of ['pool', 'write', 'digest', 'faults', 'delete-snapshot']) assert.match(help.stdout, new RegExp(`^  ${command}\\b`, 'm'));
    assert.deepEqual(help.outsideBuild, [], 'every module comes from the build');
    assert.deepEqual([...packagesOf(help)], ['commander']);
    assert.ok(![...help.sources].some((s) => /^lab\/pool\/(lab-pool|pool-command)/.test(s)), 'no action code');
  });

  it('a control-API command loads gRPC and none of NATS, Postgres, pino, zod, xen-api, prom-client', async () => {
    const list = await run(['policy', 'list', '--api', '127.0.0.1:1', '--insecure']);
    assert.equal(list.code, 69, `coordinator unreachable: ${list.stderr}`);
    const packages = packagesOf(list);
    assert.ok(packages.has('@grpc/grpc-js'));
    assert.deepEqual(HEAVY.filter((p) => p !== '@grpc/grpc-js' && packages.has(p)), []);
  });

  it('a running agent loads the agent, not the coordinator, its CLI actions or the lab', async () => {
    const config = join(dist, 'storage-agent.json');
    await writeFile(config, JSON.stringify({ role: 'storage', agentId: 'a1', storage: { remoteId: 'r1', root: dist, tls: {} } }));
    const agent = await run(['agent', '--config', config]);
    assert.equal(agent.code, 1);
    assert.match(agent.stderr, /storage\.tls: give cert and key/, 'it got as far as the storage agent config');
    assert.ok(agent.sources.has('agent/storage/index.ts'));
    const packages = packagesOf(agent);
    assert.ok(!packages.has('postgres') && !packages.has('xen-api'), [...packages].join(', '));
    assert.deepEqual([...agent.sources].filter((s) => /^(coordinator\/(service|catalogue)|coordinator\/cli\/connect-control|lab\/)/.test(s)), []);
  });

  it("the build's stamp names every source file it was built from, and the files the build depends on", async () => {
    const { files } = JSON.parse(await readFile(join(dist, STAMP), 'utf8')) as { files: [string, number, number][] };
    const stamped = new Set(files.map(([p]) => p));
    const sources = Object.keys(metafile.inputs).filter((p) => !p.includes('node_modules/'));
    assert.ok(sources.includes('bin/main.ts') && sources.includes('agent/host/index.ts') && sources.includes('lab/main.ts'));
    assert.deepEqual(sources.filter((p) => !stamped.has(p)), []);
    for (const p of ['tsconfig.json', 'package.json', 'bin/build.mjs', 'bin/build-stamp.mjs', 'node_modules/.package-lock.json']) assert.ok(stamped.has(p), p);
    assert.equal(buildIsCurrent(PROJECT_ROOT, dist), true);
  });
});

describe('build stamp: when bin/deltachain.mjs may run the build', () => {
  let root: string;
  before(async () => {
    await mkdir(join(PROJECT_ROOT, 'tmp'), { recursive: true });
    root = await mkdtemp(join(PROJECT_ROOT, 'tmp', 'cli-stamp-'));
  });
  after(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('current while every stamped file is unchanged; not after a touch, an edit, a removal, or without a whole stamp', async () => {
    const dist = join(root, 'dist');
    await mkdir(join(root, 'src'), { recursive: true });
    await mkdir(dist);
    await writeFile(join(root, 'src/a.ts'), 'export const a = 1;\n');
    await writeFile(join(root, 'src/b.ts'), 'export const b = 2;\n');
    const stamp = async (): Promise<void> => writeFile(join(dist, STAMP), JSON.stringify({ files: ['src/a.ts', 'src/b.ts'].map((p) => fileStamp(root, p)) }));
    assert.equal(buildIsCurrent(root, dist), false, 'no stamp: no build to run');
    await stamp();
    assert.equal(buildIsCurrent(root, dist), true);

    await utimes(join(root, 'src/a.ts'), new Date(), new Date(Date.now() + 5000));
    assert.equal(buildIsCurrent(root, dist), false, 'a touched file');
    await stamp();
    assert.equal(buildIsCurrent(root, dist), true);

    const t = new Date('2026-01-01T00:00:00Z');
    await utimes(join(root, 'src/b.ts'), t, t);
    await stamp();
    assert.equal(buildIsCurrent(root, dist), true);
    await writeFile(join(root, 'src/b.ts'), 'export const b = 22;\n');
    await utimes(join(root, 'src/b.ts'), t, t);
    assert.equal(buildIsCurrent(root, dist), false, 'an edit that kept the time');
    await stamp();

    await rm(join(root, 'src/a.ts'));
    assert.equal(buildIsCurrent(root, dist), false, 'a removed file');
    await writeFile(join(dist, STAMP), '{"files": [["src/b.ts"');
    assert.equal(buildIsCurrent(root, dist), false, 'a stamp cut short');
    await writeFile(join(dist, STAMP), '{"files": []}');
    assert.equal(buildIsCurrent(root, dist), false, 'an empty stamp');
  });
});
