// `deltachain-lab …`: run a lab pool (an XAPI-compatible server for tests, demos and
// benchmarks) and drive a running one — change a disk as a guest would, print a disk's digest,
// arm faults, delete a snapshot as an admin would. Thin shells over lab/pool; output is for
// humans unless --json. The lab pool itself (pool-command.ts: config, logging, the server) is
// imported when `pool` runs, so registering these commands costs the command's start-up nothing.
import { Command, InvalidArgumentError, Option } from 'commander';
import { InvalidInputError } from '../../shared/errors.js';
import { LabAdminClient } from './client/lab-admin-client.js';
import { parseSize } from './config/parse-size.js';
import type { PoolOptions } from './pool-command.js';
import { CONTENT_KINDS, type ContentKind } from './workload/content-kind.js';
import { WRITE_PATTERNS, type WritePattern } from './workload/write-plan.js';
import { humanSize } from '../../shared/human-units.js';

/** Adds the lab's subcommands (pool, write, digest, snapshot-data, faults, delete-snapshot) to `lab`. */
export function registerLabCommands(lab: Command): void {
  registerPool(lab);
  registerWrite(lab);
  registerDigest(lab);
  registerSnapshotData(lab);
  registerFaults(lab);
  lab
    .command('delete-snapshot')
    .description('delete a snapshot (VM or VDI uuid) behind the backup tool, as an administrator might')
    .requiredOption('--url <url>', 'lab pool URL with credentials: http://user:password@host:port')
    .requiredOption('--uuid <uuid>', 'snapshot VM or snapshot VDI uuid')
    .action(async (o: { url: string; uuid: string }) => {
      const deleted = await new LabAdminClient(o.url).deleteSnapshot(o.uuid);
      process.stdout.write(`${JSON.stringify(deleted)}\n`);
    });
}

function registerPool(lab: Command): void {
  lab
    .command('pool')
    .description('start a lab pool and serve until SIGINT/SIGTERM; prints its URL and credentials')
    .option('--state <dir>', 'state folder (records and disks); reopened on restart')
    .option('--config <file>', 'JSON config: state, host, port, user, password, seed, fleet, faults (see docs/lab-pool.md)')
    .option('--host <address>', 'address to listen on (default 127.0.0.1)')
    .option('--port <n>', 'TCP port, 0 picks a free one (default 0)', integer('--port'))
    .option('--user <name>', 'user for session.login_with_password (default root)')
    .option('--password <password>', 'password (default lab)')
    .option('--vms <n>', 'VMs of a new lab, one disk each (default 2)', integer('--vms'))
    .option('--disk-size <size>', 'disk size of a new lab, e.g. 16GiB (default 8GiB)', size('--disk-size'))
    .option('--fill <percent>', 'share of each new disk written with seeded content (default 2)', number('--fill'))
    .addOption(new Option('--content <kind>', 'what the fill writes: random (incompressible) or mixed (random, text-like, zeros) (default random)').choices(CONTENT_KINDS))
    .option('--seed <n>', 'seed of the seeded content (default 1)', integer('--seed'))
    .option('--faults <json>', 'faults to arm at start, e.g. \'{"snapshotFailure":{"times":1}}\'')
    .option('--metrics <host:port>', 'serve /healthz and /metrics there (plain HTTP; TLS through "metrics" in --config)')
    .addOption(new Option('--log-level <level>', 'log level (logs go to stderr)').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'))
    .option('--json', 'print the banner as one JSON line')
    .action(async (o: PoolOptions) => {
      const { runLabPool } = await import('./pool-command.js');
      await runLabPool(o);
    });
}

function registerWrite(lab: Command): void {
  lab
    .command('write')
    .description("change a running VM's disk the way a guest would (deterministic for a seed)")
    .requiredOption('--url <url>', 'lab pool URL with credentials: http://user:password@host:port')
    .requiredOption('--vdi <uuid>', 'VDI to write')
    .addOption(new Option('--pattern <pattern>', 'clustered: 2 MiB runs; clustered-64k: 64 KiB runs; scattered: 4 KiB pages; sequential: one region').choices(WRITE_PATTERNS).makeOptionMandatory())
    .requiredOption('--percent <p>', 'share of the disk to rewrite, 0 < p <= 100', number('--percent'))
    .option('--seed <n>', 'seed of the positions and content', integer('--seed'), 1)
    .addOption(new Option('--content <kind>', 'what is written: random (incompressible) or mixed (random, text-like, zeros)').choices(CONTENT_KINDS).default('random'))
    .option('--json', 'print the result as JSON')
    .action(async (o: { url: string; vdi: string; pattern: WritePattern; percent: number; seed: number; content: ContentKind; json?: boolean }) => {
      const result = await new LabAdminClient(o.url).write({ vdi: o.vdi, pattern: o.pattern, percent: o.percent, seed: o.seed, content: o.content });
      process.stdout.write(
        o.json === true
          ? `${JSON.stringify(result)}\n`
          : `wrote ${humanSize(result.bytes)} in ${result.extents} extents (${result.blocks} blocks of 2 MiB) to VDI ${result.vdi}\n`,
      );
    });
}

function registerDigest(lab: Command): void {
  lab
    .command('digest')
    .description("print the SHA-256 of a VDI's whole content (what a restore is compared against)")
    .requiredOption('--url <url>', 'lab pool URL with credentials: http://user:password@host:port')
    .requiredOption('--vdi <uuid>', 'VDI to digest')
    .option('--json', 'print {vdi, virtualSize, sha256} as JSON')
    .action(async (o: { url: string; vdi: string; json?: boolean }) => {
      const digest = await new LabAdminClient(o.url).digest(o.vdi);
      process.stdout.write(o.json === true ? `${JSON.stringify(digest)}\n` : `${digest.sha256}  ${digest.vdi}\n`);
    });
}

function registerSnapshotData(lab: Command): void {
  lab
    .command('snapshot-data')
    .description('print the bytes of snapshot data each SR holds (snapshot VDIs that are not cbt_metadata)')
    .requiredOption('--url <url>', 'lab pool URL with credentials: http://user:password@host:port')
    .option('--json', 'print {srs: [{uuid, name, physicalUtilisation, snapshotsWithData, snapshotDataBytes}], snapshotDataBytes} as JSON')
    .action(async (o: { url: string; json?: boolean }) => {
      const { srs, snapshotDataBytes } = await new LabAdminClient(o.url).state();
      if (o.json === true) {
        process.stdout.write(`${JSON.stringify({ srs, snapshotDataBytes })}\n`);
        return;
      }
      for (const sr of srs) {
        process.stdout.write(`${sr.name} (${sr.uuid}): ${humanSize(sr.snapshotDataBytes)} in ${sr.snapshotsWithData} snapshots, SR uses ${humanSize(sr.physicalUtilisation)}\n`);
      }
      process.stdout.write(`total: ${humanSize(snapshotDataBytes)}\n`);
    });
}

function registerFaults(lab: Command): void {
  lab
    .command('faults')
    .description('show, arm or clear the faults of a running lab pool (see docs/lab-pool.md)')
    .requiredOption('--url <url>', 'lab pool URL with credentials: http://user:password@host:port')
    .option('--set <json>', 'faults to arm, e.g. \'{"exportCut":{"afterBytes":1048576}}\' (null disarms one)')
    .option('--clear', 'disarm every fault')
    .action(async (o: { url: string; set?: string; clear?: boolean }) => {
      const client = new LabAdminClient(o.url);
      let armed;
      if (o.clear === true) armed = await client.clearFaults();
      if (o.set !== undefined) {
        let patch: Record<string, unknown>;
        try {
          patch = JSON.parse(o.set) as Record<string, unknown>;
        } catch (error) {
          throw new InvalidInputError(`--set is not JSON: ${(error as Error).message}`);
        }
        armed = await client.setFaults(patch);
      }
      process.stdout.write(`${JSON.stringify(armed ?? (await client.faults()))}\n`);
    });
}

function integer(flag: string) {
  return (value: string): number => {
    if (!/^-?\d+$/.test(value)) throw new InvalidArgumentError(`${flag} must be an integer, got ${JSON.stringify(value)}`);
    return Number(value);
  };
}

function number(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${flag} must be a number, got ${JSON.stringify(value)}`);
    return n;
  };
}

function size(flag: string) {
  return (value: string): number => {
    try {
      return parseSize(value, flag);
    } catch (error) {
      throw new InvalidArgumentError((error as Error).message);
    }
  };
}
