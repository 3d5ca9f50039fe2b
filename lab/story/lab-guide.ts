// What the lab tells people besides the story: which services and processes it runs (and
// where), and — when it stays up — how to use the CLI against it and how to stop it. The
// commands use the lab's real ids and addresses, so they can be pasted as they are.
import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { Services } from './ensure-services.js';
import type { LabOptions } from './lab-options.js';
import type { LabResources } from './lab-resources.js';
import type { LabStack } from './lab-stack.js';
import type { StoryOutcome } from './story.js';
import type { StoryReporter } from './story-reporter.js';

function withoutPassword(url: string): string {
  const parsed = new URL(url);
  if (parsed.password !== '') parsed.password = '***';
  return parsed.toString();
}

/** A path relative to the working folder when it is inside it, else absolute. */
function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel === '' || rel.startsWith('..') ? path : rel;
}

export function printServices(reporter: StoryReporter, services: Services, resources: LabResources): void {
  if (services.actions.length === 0) reporter.line('both already running: used as they are');
  reporter.line(`Postgres       ${withoutPassword(services.postgresUrl)} — database ${resources.databaseName} (the lab's own, dropped when it stops)`);
}

export function printStartup(reporter: StoryReporter, options: LabOptions, stack: LabStack): void {
  reporter.line(`NATS           the lab's own nats-server at ${stack.nats.url.replace(/^nats:\/\//, '')} (JetStream) — namespace ${stack.options.nats.namespace}; one nkey user per process with its role's permissions (seeds and authorization in ${shown(join(options.root, 'nats'))})`);
  for (const pool of stack.pools.values()) reporter.line(`lab pool       "${pool.name}" at ${pool.url} — XAPI-compatible (JSON-RPC, export_raw_vdi, import_raw_vdi, snapshots)`);
  for (const remote of stack.remotes.values()) reporter.line(`storage agent  remote "${remote.name}" at ${remote.address} — VHD chains under ${shown(remote.root)}`);
  for (const pool of stack.pools.values()) reporter.line(`host agent     pool "${pool.name}" — takes the pool's tasks from NATS, snapshots and exports over XAPI`);
  reporter.line(`coordinator    control API on the socket ${shown(stack.coordinatorSocket)} and at ${stack.coordinatorAddress} (mutual TLS: operator and viewer certificates in ${shown(stack.security.folder)}) — catalogue in Postgres, tasks and events over NATS`);
  reporter.line(`logs           ${shown(join(options.root, 'logs'))}/*.log`);
  if (stack.metrics.length > 0) reporter.line(`health         GET /healthz and /metrics of ${stack.metrics.map((m) => `${m.name} http://${m.address}`).join(', ')}`);
  if (Object.keys(options.faults).length > 0) reporter.line(`faults armed on the lab pool: ${JSON.stringify(options.faults)} — expect failed checks`);
}

async function firstVhd(folder: string): Promise<string | undefined> {
  const entries = await readdir(folder, { withFileTypes: true, recursive: true }).catch(() => []);
  const vhd = entries.find((e) => e.isFile() && e.name.endsWith('.vhd') && !e.name.startsWith('.'));
  return vhd === undefined ? undefined : join(vhd.parentPath ?? (vhd as unknown as { path: string }).path, vhd.name);
}

export async function printExploreGuide(reporter: StoryReporter, _options: LabOptions, stack: LabStack, outcome: StoryOutcome): Promise<void> {
  const pool = [...stack.pools.values()][0]!;
  const remote = [...stack.remotes.values()][0]!;
  const web = outcome.vms[0]!;
  const restored = outcome.restored;
  reporter.chapter('Explore — everything keeps running', 'in another terminal, in this folder (the CLI talks to the coordinator\'s control API on its local socket):');
  reporter.command(`export DELTACHAIN_SOCKET=${stack.coordinatorSocket}`);
  reporter.command('npx deltachain policy show nightly');
  reporter.command('npx deltachain backup list');
  reporter.command('npx deltachain run list');
  reporter.command('npx deltachain vm list; npx deltachain agent list');
  reporter.line('make the guest write, and back it up (a delta, then a merge — retention 3):');
  reporter.command(`npx deltachain-lab write --url ${pool.urlWithCredentials} --vdi ${web.vdis[0]} --pattern clustered --percent 5 --seed 42`);
  reporter.command('npx deltachain policy run nightly');
  if (restored !== undefined) {
    reporter.line('restore any retained date to a new VM, and compare:');
    reporter.command(`npx deltachain restore --vm ${web.uuid} --at ${new Date(restored.atMs).toISOString()} --pool ${pool.name} --sr ${restored.srUuid}`);
    reporter.command(`npx deltachain-lab digest --url ${pool.urlWithCredentials} --vdi ${web.vdis[0]}`);
  }
  const coordinatorMetrics = stack.metrics.find((m) => m.name === 'coordinator');
  if (coordinatorMetrics !== undefined) {
    reporter.line('what an operator alerts on (Prometheus):');
    reporter.command(`curl -s http://${coordinatorMetrics.address}/metrics | grep -E '^deltachain_(last_good_backup_age_seconds|chain_length|tasks)'`);
  }
  const vhd = await firstVhd(remote.root);
  if (vhd !== undefined) {
    reporter.line('the backups are plain VHD files:');
    reporter.command(`npx deltachain vhd info ${shown(vhd)}`);
  }
  reporter.chapter('Stop everything with Ctrl-C here', 'every process stops, and the lab\'s database and NATS streams are removed');
}
