// What the tests need besides npm packages, checked before any test runs (test/run-tests.mjs)
// and installed by `npm run lab -- --once`: the tools the tests run (qemu-img and libvhdi as
// oracles of the VHD format, b3sum as BLAKE3's, fincore and losetup to see direct reads, qemu-nbd and nbdkit as NBD servers (libnbd's nbdinfo and nbdcopy as
// NBD clients), restic and borg for the peers benchmark, openssl for certificates,
// nats-server, systemd-analyze) and a Postgres and a NATS with JetStream to connect to. As root
// on Debian the missing packages are installed (`apt-get update`, `apt-get install -y …`) and
// stopped servers started; otherwise one message says what to run. Plain JavaScript: it runs
// before tsx is loaded.
import { execFile, spawn } from 'node:child_process';
import { accessSync, constants, mkdirSync, readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Where the tests find Postgres (as test/support/pg-database.ts) and NATS (storage-nats.ts). */
const PG_URL = new URL(process.env.DELTACHAIN_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
const PG = { host: PG_URL.hostname, port: Number(PG_URL.port || 5432) };
const NATS = { host: '127.0.0.1', port: 4222 };

/** An executable named `name` on PATH (or in the sbin folders root has), or undefined. */
export function findOnPath(name) {
  const folders = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin'];
  for (const folder of folders.filter(Boolean)) {
    try {
      accessSync(join(folder, name), constants.X_OK);
      return join(folder, name);
    } catch {
      // not in this folder
    }
  }
  return undefined;
}

async function succeeds(file, args) {
  try {
    await run(file, args, { timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
}

function postgresInstalled() {
  try {
    return readdirSync('/usr/lib/postgresql').some((v) => /^\d+$/.test(v));
  } catch {
    return false;
  }
}

/** Each thing the tests need: how to tell it is here, and the Debian package that brings it. */
export const PREREQUISITES = [
  { what: 'qemu-img', debian: 'qemu-utils', present: async () => findOnPath('qemu-img') !== undefined },
  { what: 'libvhdi for python (/usr/bin/python3 -c "import pyvhdi")', debian: 'python3-libvhdi', present: () => succeeds('/usr/bin/python3', ['-c', 'import pyvhdi']) },
  { what: 'qemu-nbd', debian: 'qemu-utils', present: async () => findOnPath('qemu-nbd') !== undefined },
  { what: 'nbdkit', debian: 'nbdkit', present: async () => findOnPath('nbdkit') !== undefined },
  { what: 'nbdinfo and nbdcopy', debian: 'libnbd-bin', present: async () => findOnPath('nbdcopy') !== undefined },
  { what: 'b3sum', debian: 'b3sum', present: async () => findOnPath('b3sum') !== undefined },
  { what: 'restic', debian: 'restic', present: async () => findOnPath('restic') !== undefined },
  { what: 'borg', debian: 'borgbackup', present: async () => findOnPath('borg') !== undefined },
  { what: 'fincore', debian: 'util-linux-extra', present: async () => findOnPath('fincore') !== undefined },
  { what: 'losetup', debian: 'mount', present: async () => findOnPath('losetup') !== undefined },
  { what: 'openssl', debian: 'openssl', present: async () => findOnPath('openssl') !== undefined },
  { what: 'nats-server', debian: 'nats-server', present: async () => findOnPath('nats-server') !== undefined },
  { what: 'systemd-analyze', debian: 'systemd', present: async () => findOnPath('systemd-analyze') !== undefined },
  { what: 'a Postgres server', debian: 'postgresql', present: async () => postgresInstalled() || (await portOpen(PG.host, PG.port)) },
];

/** The prerequisites missing on this machine. */
export async function missingPrerequisites() {
  const present = await Promise.all(PREREQUISITES.map((p) => p.present()));
  return PREREQUISITES.filter((_, i) => !present[i]);
}

/** The one line that installs `packages`. */
export function aptLine(packages) {
  return `apt-get install -y ${[...new Set(packages)].join(' ')}`;
}

export function portOpen(host, port, timeoutMs = 2000) {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (open) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export class PrerequisitesError extends Error {
  name = 'PrerequisitesError';
  code = 'TEST_PREREQUISITES';
}

const isRoot = () => process.getuid?.() === 0;

async function apt(args, log) {
  log(`apt-get ${args.join(' ')}`);
  try {
    await run('apt-get', args, { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, maxBuffer: 64 * 1024 * 1024 });
  } catch (error) {
    throw new PrerequisitesError(`\`apt-get ${args.join(' ')}\` failed: ${(error.stderr || error.message).trim().split('\n').slice(-3).join(' ')}`);
  }
}

/** Installs the Debian packages of `missing` (as root, with apt). */
export async function installPackages(missing, log) {
  const packages = [...new Set(missing.map((p) => p.debian))];
  await apt(['update'], log);
  await apt(['install', '-y', '--no-install-recommends', ...packages], log);
  const still = await missingPrerequisites();
  if (still.length > 0) throw new PrerequisitesError(`still missing after \`${aptLine(packages)}\`: ${still.map((p) => p.what).join(', ')}`);
}

/** Starts a stopped Debian Postgres cluster on the tests' port (as root). */
async function startPostgres(log) {
  let clusters = '';
  try {
    clusters = (await run('pg_lsclusters', ['--no-header'])).stdout;
  } catch {
    return;
  }
  for (const [version, name, port] of clusters.split('\n').map((l) => l.trim().split(/\s+/))) {
    if (Number(port) !== PG.port) continue;
    log(`pg_ctlcluster ${version} ${name} start`);
    await run('pg_ctlcluster', ['--skip-systemctl-redirect', version, name, 'start']).catch(() => undefined);
  }
}

/** Starts nats-server with JetStream on the tests' port, detached, as a system service would be (as root). */
async function startNats(log) {
  const binary = findOnPath('nats-server');
  if (binary === undefined) return;
  const store = '/var/lib/nats-server';
  mkdirSync(store, { recursive: true });
  const args = ['-js', '-a', NATS.host, '-p', String(NATS.port), '-sd', store, '-l', '/var/log/nats-server.log'];
  log(`${binary} ${args.join(' ')} &`);
  spawn(binary, args, { detached: true, stdio: 'ignore' }).unref();
  for (let i = 0; i < 50 && !(await portOpen(NATS.host, NATS.port)); i++) await new Promise((r) => setTimeout(r, 100));
}

/**
 * Makes sure the tests can run: installs what is missing and starts stopped servers as root;
 * otherwise throws a PrerequisitesError whose message says exactly what to run. `services`:
 * also require Postgres and NATS listening (the lab story starts its own, so it passes false).
 */
export async function ensurePrerequisites({ log = () => {}, services = true } = {}) {
  const missing = await missingPrerequisites();
  const canInstall = isRoot() && findOnPath('apt-get') !== undefined;
  if (missing.length > 0) {
    if (!canInstall) {
      throw new PrerequisitesError(
        `the tests need ${missing.map((p) => p.what).join(', ')}, which this machine lacks. Install them as root:\n    ${aptLine(missing.map((p) => p.debian))}\n(run as root, test/run-tests.mjs and \`npm run lab -- --once\` install them themselves)`,
      );
    }
    await installPackages(missing, log);
  }
  if (!services) return;
  if (!(await portOpen(PG.host, PG.port)) && isRoot()) await startPostgres(log);
  if (!(await portOpen(NATS.host, NATS.port)) && isRoot()) await startNats(log);
  const notListening = [];
  if (!(await portOpen(PG.host, PG.port))) notListening.push(`Postgres at ${PG.host}:${PG.port} (start it: pg_ctlcluster VERSION main start, or set DELTACHAIN_TEST_PG_URL)`);
  if (!(await portOpen(NATS.host, NATS.port))) notListening.push(`NATS at ${NATS.host}:${NATS.port} (start it: nats-server -js -a 127.0.0.1 -p 4222 &)`);
  if (notListening.length > 0) throw new PrerequisitesError(`the tests need ${notListening.join(' and ')}; as root, test/run-tests.mjs starts them itself`);
}

/** The message a test gives when `what` (a PREREQUISITES entry's name) is missing. */
export function missingMessage(what) {
  const prerequisite = PREREQUISITES.find((p) => p.what === what);
  const line = prerequisite === undefined ? '' : `: ${aptLine([prerequisite.debian])} (as root; test/run-tests.mjs does it itself)`;
  return `${what} is not installed${line}`;
}
