// Finds every *.test.ts of the project and runs them with node's built-in test runner through
// tsx. (Node 20's `--test` does not expand globs itself.) Extra arguments are passed through, so
// `npm test -- --test-name-pattern=merge` works; a path argument narrows the run to that folder.
// Two test files run at a time: most of the suite waits on real processes (agents, Postgres,
// NATS, qemu-img), so two overlap well even on two cores (measured: 8.0 min against 11.6 one at a
// time); `--test-concurrency=1` on the command line runs them one by one.
// First of all it checks what the tests need besides npm packages (support/prerequisites.mjs):
// as root it installs what is missing; otherwise it says what to run and no test runs.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensurePrerequisites, PrerequisitesError } from './support/prerequisites.mjs';

try {
  await ensurePrerequisites({ log: (line) => console.log(`run-tests: ${line}`) });
} catch (error) {
  if (!(error instanceof PrerequisitesError)) throw error;
  console.error(`run-tests: ${error.message}`);
  process.exit(1);
}

const root = fileURLToPath(new URL('..', import.meta.url));
const roots = ['shared', 'coordinator', 'agent', 'deploy', 'lab', 'test', 'bin'];
const skip = new Set(['node_modules', '.lab', 'tmp', '.git', 'bench']);

function find(dir, out) {
  for (const name of readdirSync(dir)) {
    if (skip.has(name)) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) find(path, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, path));
  }
  return out;
}

const args = process.argv.slice(2);
const paths = args.filter((a) => !a.startsWith('-'));
const flags = args.filter((a) => a.startsWith('-'));
let files = roots.flatMap((r) => find(join(root, r), []));
if (paths.length > 0) files = files.filter((f) => paths.some((p) => f.startsWith(p.replace(/^\.\//, ''))));
files.sort();
if (files.length === 0) {
  console.error('run-tests: no test files found');
  process.exit(1);
}
const concurrency = flags.some((f) => f.startsWith('--test-concurrency')) ? [] : ['--test-concurrency=2'];
const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...concurrency, ...flags, ...files], {
  cwd: root,
  stdio: 'inherit',
});
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
