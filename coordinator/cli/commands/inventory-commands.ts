// `deltachain pool add|list`, `remote add|edit|list|scan`, `agent list`, `vm list`, `backup list`.
import { Command } from 'commander';
import type * as wire from '../../../shared/proto/gen/deltachain/control/v1/control.js';
import type { CliIo } from '../cli-io.js';
import { commandAction, printJson, withConnection } from '../command-action.js';
import { EXIT } from '../exit-codes.js';
import { damageOfBackups, formatDamage } from '../format-damage.js';
import { formatTable } from '../format-table.js';
import { humanSize } from '../../../shared/human-units.js';
import { humanAgo, humanTime, shortId } from '../format-values.js';
import { wholeNumber } from '../parse-arguments.js';
import { ProgressView } from '../progress-view.js';

/** An agent silent for longer than this is shown as "silent". */
const SILENT_AFTER_MS = 90_000;

function registerPool(program: Command, io: CliIo): void {
  const pool = program.command('pool').description('pools of hosts, each served by its host agents');
  withConnection(pool.command('add <name>').description('register a pool (its host agents name it in their config)'))
    .option('--site <site>', 'where the pool is', '')
    .option('--description <text>', 'free text', '')
    .action(
      commandAction<[string], { site: string; description: string }>(io, async ({ client, options }, name) => {
        await client.addPool({ name, site: options.site, description: options.description });
        io.out(`added pool ${name}\n`);
      }),
    );
  withConnection(pool.command('list').description('list pools'))
    .option('--json', 'print JSON')
    .action(
      commandAction<[], object>(io, async ({ client, options }) => {
        const { pools } = await client.listPools();
        if (options.json) return printJson(io, pools);
        io.out(
          formatTable(pools, [
            { header: 'NAME', value: (p) => p.name },
            { header: 'SITE', value: (p) => p.site },
            { header: 'VMS', value: (p) => p.vmCount, right: true },
            { header: 'AGENTS', value: (p) => p.agentCount, right: true },
            { header: 'DESCRIPTION', value: (p) => p.description },
          ]),
        );
      }),
    );
}

function registerRemote(program: Command, io: CliIo): void {
  const remote = program.command('remote').description('remotes: where backups are kept, each served by a storage agent');
  withConnection(remote.command('add <name>').description('register a remote (its storage agent names it in its config) and where its storage agent is'))
    .option('--address <host:port>', "the storage agent's gRPC address; backups and restores use this one only (never what an agent announces)", '')
    .option('--site <site>', 'where the remote is', '')
    .option('--location <where>', 'where the storage agent keeps it (informational)', '')
    .option('--description <text>', 'free text', '')
    .action(
      commandAction<[string], { address: string; site: string; location: string; description: string }>(io, async ({ client, options }, name) => {
        await client.addRemote({ name, address: options.address, site: options.site, location: options.location, description: options.description });
        io.out(`added remote ${name}${options.address === '' ? '' : ` at ${options.address}`}\n`);
        if (options.address === '') io.err(`deltachain: remote ${name} has no address yet: backups to it wait until \`deltachain remote edit ${name} --address HOST:PORT\`\n`);
      }),
    );
  withConnection(remote.command('edit <name>').description("change a remote's registered storage address, site, location or description"))
    .option('--address <host:port>', "the storage agent's gRPC address")
    .option('--site <site>', 'where the remote is')
    .option('--location <where>', 'where the storage agent keeps it (informational)')
    .option('--description <text>', 'free text')
    .action(
      commandAction<[string], { address?: string; site?: string; location?: string; description?: string }>(io, async ({ client, options }, name) => {
        const { address, site, location, description } = options;
        if ([address, site, location, description].every((v) => v === undefined)) {
          io.err('deltachain: nothing to change: give --address, --site, --location or --description\n');
          return EXIT.USAGE;
        }
        const { remote: edited } = await client.editRemote({ name, address, site, location, description });
        io.out(`remote ${name} edited${edited?.address ? `; its storage agent is at ${edited.address}` : ''}\n`);
      }),
    );
  withConnection(remote.command('list').description('list remotes'))
    .option('--json', 'print JSON')
    .action(
      commandAction<[], object>(io, async ({ client, options }) => {
        const { remotes } = await client.listRemotes();
        if (options.json) return printJson(io, remotes);
        io.out(
          formatTable(remotes, [
            { header: 'NAME', value: (r) => r.name },
            { header: 'ADDRESS', value: (r) => r.address || '(none)' },
            { header: 'SITE', value: (r) => r.site },
            { header: 'BACKUPS', value: (r) => r.backupCount, right: true },
            { header: 'SIZE', value: (r) => humanSize(r.sizeBytes), right: true },
            { header: 'LAST SCAN', value: (r) => humanTime(r.lastScanAtMs) },
            { header: 'LOCATION', value: (r) => r.location },
          ]),
        );
      }),
    );
  withConnection(remote.command('scan <name>').description("ask the remote's storage agent what it holds and adopt it into the catalogue (what the catalogue cannot vouch for is recorded unverified)"))
    .option('--remove-garbage', 'also delete leftovers the remote format calls garbage')
    .option('--accept', "instead of scanning: accept the remote's unverified backups (restorable afterwards); check them first with `backup list`")
    .option('--grace <seconds>', 'only files untouched this long count as garbage', wholeNumber(0, 10 * 365 * 86400), 3600)
    .option('--no-wait', 'return once the scan is queued')
    .option('--json', 'print the task as JSON when it ends')
    .action(
      commandAction<[string], { removeGarbage?: boolean; accept?: boolean; grace: number; wait: boolean }>(io, async ({ client, options }, name) => {
        if (options.accept) {
          const { acceptedBackupIds } = await client.scanRemote({ name, removeGarbage: false, graceSeconds: 0, accept: true });
          if (options.json) printJson(io, { accepted: acceptedBackupIds });
          else io.out(acceptedBackupIds.length === 0 ? `remote ${name} has no unverified backups\n` : `accepted ${acceptedBackupIds.length} backups of ${name}: ${acceptedBackupIds.join(', ')}\n`);
          return EXIT.OK;
        }
        const { task } = await client.scanRemote({ name, removeGarbage: options.removeGarbage ?? false, graceSeconds: options.grace, accept: false });
        if (!options.wait) {
          if (options.json) printJson(io, task);
          else io.out(`scan of ${name} queued as task ${task!.id}\n`);
          return;
        }
        const view = new ProgressView({ ...io, out: options.json ? () => {} : io.out });
        let last = task!;
        for await (const update of client.watchTask({ id: task!.id })) {
          last = update.task!;
          view.update([last]);
        }
        if (options.json) printJson(io, last);
        else if (last.state === 'succeeded') io.out(`scan of ${name} done: ${summarizeScan(last.resultJson)}\n`);
        else io.err(`deltachain: scan of ${name} ${last.state}: ${last.errorMessage}\n`);
        return last.state === 'succeeded' ? EXIT.OK : EXIT.FAILED;
      }),
    );
}

function summarizeScan(resultJson: string): string {
  const result = JSON.parse(resultJson || '{}') as { adopted?: string[]; known?: string[]; missing?: string[]; unverified?: string[]; mismatched?: string[] };
  const base = `${result.adopted?.length ?? 0} backups adopted, ${result.known?.length ?? 0} already known, ${result.missing?.length ?? 0} gone from the remote`;
  const unverified = result.unverified ?? [];
  const mismatched = result.mismatched ?? [];
  return [
    base,
    ...(unverified.length === 0 ? [] : [`${unverified.length} unverified (the catalogue cannot vouch for them; not restorable until \`remote scan --accept\`): ${unverified.join(', ')}`]),
    ...(mismatched.length === 0 ? [] : [`${mismatched.length} differ from the catalogue (left as recorded; check with \`verify\`): ${mismatched.join(', ')}`]),
  ].join('; ');
}

function registerAgentList(program: Command, io: CliIo): void {
  let agent = program.commands.find((c) => c.name() === 'agent');
  if (agent) allowSubcommandsWithoutConfig(agent);
  else agent = program.command('agent').description('agents: `deltachain agent list` shows them');
  withConnection(agent.command('list').description('list host and storage agents with their last heartbeat'))
    .option('--json', 'print JSON')
    .action(
      commandAction<[], object>(io, async ({ client, options }) => {
        const { agents, nowMs } = await client.listAgents();
        if (options.json) return printJson(io, agents);
        io.out(
          formatTable(agents, [
            { header: 'ID', value: (a) => a.id },
            { header: 'ROLE', value: (a) => a.role },
            { header: 'SERVES', value: (a) => (a.known ? a.target : `${a.target} (not registered)`) },
            { header: 'STATUS', value: (a) => (nowMs - a.lastHeartbeatAtMs > SILENT_AFTER_MS ? 'silent' : 'up') },
            { header: 'HEARD', value: (a) => humanAgo(a.lastHeartbeatAtMs, nowMs) },
            { header: 'TASKS', value: (a) => `${a.runningTasks}/${a.concurrency}`, right: true },
            { header: 'VERSION', value: (a) => a.version },
            { header: 'ADDRESS', value: (a) => (a.addressMismatch ? `${a.address} (registered: ${a.registeredAddress}; not used)` : a.address) },
          ]),
        );
        const mismatched = agents.filter((a) => a.addressMismatch);
        for (const a of mismatched) io.err(`deltachain: storage agent ${a.id} of remote ${a.target} says it serves ${a.address}, but the registered address is ${a.registeredAddress}: tasks use the registered one; fix the agent's storage.advertise or run \`deltachain remote edit ${a.target} --address HOST:PORT\`\n`);
      }),
    );
}

/**
 * `deltachain agent` (agent/index.ts) requires --config, and commander checks a parent's
 * required options before running a subcommand, which would make `agent list` demand a config.
 * The requirement is kept for `agent` itself, checked in a hook instead.
 */
function allowSubcommandsWithoutConfig(agent: Command): void {
  const config = agent.options.find((o) => o.long === '--config' && o.mandatory);
  if (!config) return;
  config.mandatory = false;
  agent.hook('preAction', (_command, actionCommand) => {
    if (actionCommand === agent && agent.getOptionValue(config.attributeName()) === undefined) {
      agent.error(`error: required option '${config.flags}' not specified`, { code: 'commander.missingMandatoryOptionValue', exitCode: 1 });
    }
  });
}

function registerVm(program: Command, io: CliIo): void {
  const vm = program.command('vm').description('VMs as the host agents last reported them');
  withConnection(vm.command('list').description('list known VMs'))
    .option('--pool <name>', 'only VMs of this pool')
    .option('--json', 'print JSON')
    .action(
      commandAction<[], { pool?: string }>(io, async ({ client, options }) => {
        const { vms } = await client.listVms({ pool: options.pool ?? '' });
        if (options.json) return printJson(io, vms);
        io.out(
          formatTable(vms, [
            { header: 'UUID', value: (v) => v.uuid },
            { header: 'NAME', value: (v) => v.nameLabel },
            { header: 'POOL', value: (v) => v.pool },
            { header: 'POWER', value: (v) => v.powerState },
            { header: 'TAGS', value: (v) => v.tags.join(',') },
            { header: 'LAST SEEN', value: (v) => humanTime(v.lastSeenAtMs) },
          ]),
        );
      }),
    );
}

function registerBackup(program: Command, io: CliIo): void {
  const backup = program.command('backup').description('backups in the catalogue');
  withConnection(backup.command('list').description('list backups, oldest first per VM and remote'))
    .option('--vm <uuid>', 'only backups of this VM')
    .option('--remote <name>', 'only backups on this remote')
    .option('--all', 'include deleted backups')
    .option('--json', 'print JSON')
    .action(
      commandAction<[], { vm?: string; remote?: string; all?: boolean }>(io, async ({ client, options }) => {
        const { backups } = await client.listBackups({ vmUuid: options.vm ?? '', remote: options.remote ?? '', all: options.all ?? false });
        if (options.json) return printJson(io, backups);
        const damaged = formatDamage(damageOfBackups(backups));
        io.out(
          formatTable(backups, [
            { header: 'BACKUP', value: (b) => b.id },
            { header: 'VM', value: (b) => `${shortId(b.vmUuid)} ${b.vmName}`.trim() },
            { header: 'REMOTE', value: (b) => b.remote },
            { header: 'TAKEN', value: (b) => humanTime(b.takenAtMs) },
            { header: 'DISKS', value: (b) => `${b.diskCount} (${b.fullDiskCount} full)` },
            { header: 'SIZE', value: (b) => humanSize(b.sizeBytes), right: true },
            { header: 'STATUS', value: (b) => b.status },
            // Only when a backup is damaged: the usual listing stays as it was.
            ...(damaged === '' ? [] : [{ header: 'DAMAGED', value: (b: wire.Backup) => (b.damage.length === 0 ? '' : [...new Set(b.damage.map((d) => (d.diskKey === '' ? 'all disks' : `disk ${shortId(d.diskKey)}`)))].join(', ')) }]),
          ]),
        );
        if (damaged !== '') io.out(`\ndamaged backups — they do not restore correctly, and the next backup of each damaged disk is a full:\n${damaged}`);
      }),
    );
  withConnection(backup.command('points').description("a VM's restore points, oldest first, and on which remotes each one is"))
    .requiredOption('--vm <uuid>', 'the VM')
    .option('--json', 'print JSON')
    .action(
      commandAction<[], { vm: string }>(io, async ({ client, options }) => {
        const { backups } = await client.listBackups({ vmUuid: options.vm, remote: '', all: false });
        const points = restorePoints(backups);
        if (options.json) return printJson(io, points);
        if (points.length === 0) return io.out(`no backup of VM ${options.vm} in the catalogue; \`deltachain backup list\` shows what there is\n`);
        const remotes = [...new Set(backups.map((b) => b.remote))].sort();
        io.out(
          formatTable(points, [
            { header: 'TAKEN', value: (p) => humanTime(p.takenAtMs) },
            ...remotes.map((remote) => ({ header: remote.toUpperCase(), value: (p: RestorePoint) => pointCell(p.remotes[remote]) })),
          ]),
        );
      }),
    );
}

interface RestorePoint {
  takenAtMs: number;
  /** The snapshot's key ('' when the coordinator did not say). */
  snapshotKey: string;
  /** Remote → the backup there (its id, status, damage). */
  remotes: Record<string, { backupId: string; status: string; damaged: boolean }>;
}

/**
 * A VM's backups as restore points: one per snapshot, with the remotes that hold it. Backups of one
 * snapshot share its time (to the second) and its snapshot key (the disks' snapshot VDIs). Two
 * snapshots in one second are two points, in the order of a remote that holds both (each remote's
 * backups are listed oldest first). A backup without a snapshot key (an older coordinator) joins
 * the first point of its second that its remote is not in yet.
 */
export function restorePoints(backups: readonly wire.Backup[]): RestorePoint[] {
  const byTime = new Map<number, RestorePoint[]>();
  const rank = new Map<RestorePoint, Map<string, number>>();
  const listed = new Map<string, number>();
  for (const b of backups) {
    const points = byTime.get(b.takenAtMs) ?? [];
    const key = b.snapshotKey ?? '';
    let point = points.find((p) => p.remotes[b.remote] === undefined && (key === '' || p.snapshotKey === key));
    if (point === undefined) {
      point = { takenAtMs: b.takenAtMs, snapshotKey: key, remotes: {} };
      points.push(point);
      rank.set(point, new Map());
    }
    point.remotes[b.remote] = { backupId: b.id, status: b.status, damaged: b.damage.length > 0 };
    const place = listed.get(b.remote) ?? 0;
    listed.set(b.remote, place + 1);
    rank.get(point)!.set(b.remote, place);
    byTime.set(b.takenAtMs, points);
  }
  const order = (a: RestorePoint, b: RestorePoint): number => {
    const ranksA = rank.get(a)!;
    const ranksB = rank.get(b)!;
    const shared = [...ranksA.keys()].find((remote) => ranksB.has(remote));
    return shared === undefined ? 0 : ranksA.get(shared)! - ranksB.get(shared)!;
  };
  return [...byTime.values()].flatMap((points) => [...points].sort(order)).sort((a, b) => a.takenAtMs - b.takenAtMs);
}

function pointCell(at: RestorePoint['remotes'][string] | undefined): string {
  if (at === undefined) return '-';
  if (at.damaged) return `${at.backupId} DAMAGED`;
  return at.status === 'committed' ? at.backupId : `${at.backupId} (${at.status})`;
}

export function registerInventoryCommands(program: Command, io: CliIo): void {
  registerPool(program, io);
  registerRemote(program, io);
  registerAgentList(program, io);
  registerVm(program, io);
  registerBackup(program, io);
}
