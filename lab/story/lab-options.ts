// `npm run lab [-- options]`: the options, parsed once (commander) into a frozen object, with
// the environment read here and nowhere else in the lab (DELTACHAIN_LAB_PG_URL,
// DELTACHAIN_LAB_NATS_URL). Also the lab's fleet: three VMs, two of them in the story's policy.
import { resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { parseSize } from '../pool/index.js';
import type { FleetInput } from '../pool/config/lab-config.js';

export interface LabOptions {
  once: boolean;
  root: string;
  diskSize: number;
  nights: number;
  /** Control API port; 0 picks a free one. */
  port: number;
  postgresUrl: string | undefined;
  postgresPort: number;
  natsUrl: string;
  logLevel: 'info' | 'debug' | 'warn';
  /** Lab pool faults armed at start (docs/lab-pool.md), to see how failures look. */
  faults: Record<string, unknown>;
}

function positiveInt(min: number) {
  return (text: string): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected a whole number ≥ ${min}`);
    return n;
  };
}

function faults(text: string): Record<string, unknown> {
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('expected a JSON object');
    return value as Record<string, unknown>;
  } catch (error) {
    throw new InvalidArgumentError(`not a JSON object of faults (${(error as Error).message}), e.g. '{"snapshotFailure":{"times":1}}'`);
  }
}

function size(text: string): number {
  try {
    const bytes = parseSize(text, '--disk-size');
    if (bytes % (2 * 1024 * 1024) !== 0 || bytes < 4 * 1024 * 1024) throw new Error('use a multiple of 2 MiB, at least 4MiB');
    return bytes;
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

export function labProgram(): Command {
  return new Command('npm run lab --')
    .description('Deltachain on this machine: Postgres, NATS, a lab pool, agents and the coordinator, then the story of continuous delta backups')
    .option('--once', 'play the story, stop everything and exit (status 1 when a check fails)')
    .option('--root <dir>', 'folder of the lab (configs, logs, pool disks, the remote)', '.lab')
    .addOption(new Option('--disk-size <size>', 'size of each VM\'s first disk (others are half)').argParser(size).default(128 * 1024 * 1024, '128MiB'))
    .option('--nights <n>', 'nights of backups in the story (at least 5 to see merges)', positiveInt(5), 5)
    .option('--port <n>', 'control API port (default 7100, or a free one if taken; 0 = free)', positiveInt(0))
    .option('--log-level <level>', 'log level of the processes (logs in <root>/logs)', 'info')
    .addOption(new Option('--faults <json>', 'lab pool faults to arm at start, to see how failures look (docs/lab-pool.md)').argParser(faults).default({}, 'none'))
    .helpOption('-h, --help', 'show this help')
    .exitOverride();
}

export function parseLabOptions(argv: string[], env: Record<string, string | undefined>): LabOptions {
  const program = labProgram();
  program.parse(argv, { from: 'user' });
  const o = program.opts<{ once?: boolean; root: string; diskSize: number; nights: number; port?: number; logLevel: string; faults: Record<string, unknown> }>();
  const level = ['info', 'debug', 'warn'].includes(o.logLevel) ? (o.logLevel as LabOptions['logLevel']) : 'info';
  const postgresUrl = env.DELTACHAIN_LAB_PG_URL;
  return Object.freeze({
    once: o.once === true,
    root: resolve(o.root),
    diskSize: o.diskSize,
    nights: o.nights,
    port: o.port ?? (o.once ? 0 : 7100),
    postgresUrl,
    postgresPort: postgresUrl === undefined ? 5432 : Number(new URL(postgresUrl).port || 5432),
    natsUrl: env.DELTACHAIN_LAB_NATS_URL ?? 'nats://127.0.0.1:4222',
    logLevel: level,
    faults: o.faults,
  });
}

const MiB = 1024 * 1024;

/** The lab pool's fleet: web (two disks) and db are backed up; build is not in the policy. Its network has purpose `nbd`, so backups read over CBT and NBD (TLS). */
export function labFleet(diskSize: number): FleetInput {
  const half = Math.max(4 * MiB, Math.floor(diskSize / 2 / (2 * MiB)) * 2 * MiB);
  return {
    pool: 'Lab pool',
    srs: [
      { name: 'Local storage', type: 'ext', size: 2 ** 40 },
      { name: 'Restore SR', type: 'ext', size: 2 ** 40 },
    ],
    networks: [{ name: 'Pool-wide network associated with eth0', bridge: 'xenbr0', MTU: 1500, purpose: ['nbd'] }],
    vms: [
      { name: 'web', memory: 2 * 1024 ** 3, vcpus: 2, disks: [{ name: 'web root', size: diskSize, fill: 40 }, { name: 'web data', size: half, fill: 50 }] },
      { name: 'db', memory: 4 * 1024 ** 3, vcpus: 2, disks: [{ name: 'db root', size: diskSize, fill: 30 }] },
      { name: 'build', powerState: 'Halted', disks: [{ name: 'build root', size: half, fill: 20 }] },
    ],
  };
}
