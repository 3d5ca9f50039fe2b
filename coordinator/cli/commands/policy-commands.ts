// `deltachain policy create|list|show|edit|delete|enable|disable|run`.
import type { Command } from 'commander';
import type * as wire from '../../../shared/proto/gen/deltachain/control/v1/control.js';
import type { CliIo } from '../cli-io.js';
import { commandAction, printJson, withConnection } from '../command-action.js';
import { formatFields, formatTable } from '../format-table.js';
import { humanTime, shortId } from '../format-values.js';
import { collect, wholeNumber } from '../parse-arguments.js';
import { printRunDetail } from './run-commands.js';

interface SettingsFlags {
  vm?: string[];
  tag?: string[];
  pool?: string[];
  remote?: string[];
  schedule?: string;
  timeZone?: string;
  retention?: number;
  fullInterval?: number;
  concurrency?: number;
  rename?: string;
  disabled?: boolean;
  /** --purge-snapshot-data (true) / --no-purge-snapshot-data (false); absent: unchanged. */
  purgeSnapshotData?: boolean;
}

function settingsOptions(command: Command, editing: boolean): Command {
  const replaces = editing ? ' (replaces the list)' : '';
  return command
    .option('--vm <uuid>', `a VM to back up, by uuid; repeat or comma-separate${replaces}`, collect)
    .option('--tag <tag>', `back up the VMs carrying this tag${replaces}`, collect)
    .option('--pool <name>', `back up every VM of this pool${replaces}`, collect)
    .option('--remote <name>', `a remote to write to; repeat for several${replaces}`, collect)
    .option('--schedule <cron>', 'cron expression, e.g. "0 2 * * *" (02:00 daily)')
    .option('--time-zone <zone>', 'IANA time zone of the schedule (default UTC)')
    .option('--retention <n>', 'backups kept per VM and remote', wholeNumber(1, 10000))
    .option('--full-interval <n>', 'backups per chain before a new full (0 = never, 1 = always full)', wholeNumber(0, 10000))
    .option('--concurrency <n>', 'VMs of one pool backed up at once', wholeNumber(1, 1000))
    .option('--purge-snapshot-data', "after each successful backup, the reference snapshot's disks read over CBT+NBD keep only their CBT metadata (VDI.data_destroy): no snapshot data stays on the pool's SR between runs (the default)")
    .option('--no-purge-snapshot-data', "keep the reference snapshot's data on the SR (costs SR space; lets the next delta come from XAPI's VHD export if CBT or NBD stop working)");
}

function mergeSettings(base: wire.PolicySettings, name: string, flags: SettingsFlags): wire.PolicySettings {
  const selection = base.selection ?? { vmUuids: [], tags: [], pools: [] };
  const selectionChanged = flags.vm !== undefined || flags.tag !== undefined || flags.pool !== undefined;
  return {
    name,
    selection: selectionChanged ? { vmUuids: flags.vm ?? [], tags: flags.tag ?? [], pools: flags.pool ?? [] } : selection,
    remotes: flags.remote ?? base.remotes,
    cron: flags.schedule ?? base.cron,
    timeZone: flags.timeZone ?? base.timeZone,
    retention: flags.retention ?? base.retention,
    fullInterval: flags.fullInterval ?? base.fullInterval,
    concurrency: flags.concurrency ?? base.concurrency,
    enabled: flags.disabled === true ? false : base.enabled,
    purgeSnapshotData: flags.purgeSnapshotData ?? base.purgeSnapshotData ?? true,
  };
}

function describeSelection(s: wire.VmSelection | undefined): string {
  const parts = [
    ...(s?.vmUuids ?? []).map((u) => `vm:${u}`),
    ...(s?.tags ?? []).map((t) => `tag:${t}`),
    ...(s?.pools ?? []).map((p) => `pool:${p}`),
  ];
  return parts.join(', ');
}

function printPolicy(io: CliIo, p: wire.Policy): void {
  const s = p.settings!;
  io.out(
    formatFields([
      ['name', s.name],
      ['id', p.id],
      ['enabled', s.enabled ? 'yes' : 'no'],
      ['VMs', describeSelection(s.selection)],
      ['remotes', s.remotes.join(', ')],
      ['schedule', `${s.cron} (${s.timeZone})`],
      ['next run', humanTime(p.nextRunAtMs)],
      ['retention', `${s.retention} backups per VM and remote`],
      ['full interval', s.fullInterval === 0 ? 'never (incremental forever)' : `a new full every ${s.fullInterval} backups`],
      ['concurrency', `${s.concurrency} VMs per pool`],
      ['snapshot data', s.purgeSnapshotData === false ? 'kept on the SR between runs' : 'purged after each backup (CBT metadata kept)'],
      ['last run', p.lastRunAtMs === 0 ? '-' : `${p.lastRunState} (${humanTime(p.lastRunAtMs)})`],
    ]),
  );
}

function registerCreate(policy: Command, io: CliIo): void {
  settingsOptions(withConnection(policy.command('create <name>').description('create a policy')), false)
    .option('--disabled', 'create it disabled (no scheduled runs until enabled)')
    .option('--json', 'print the policy as JSON')
    .addHelpText('after', '\nExample:\n  deltachain policy create nightly --tag prod --remote nas --schedule "0 2 * * *" --time-zone Europe/Paris --retention 14 --full-interval 7')
    .action(
      commandAction<[string], SettingsFlags>(io, async ({ client, options }, name) => {
        const empty: wire.PolicySettings = { name, selection: { vmUuids: [], tags: [], pools: [] }, remotes: [], cron: '', timeZone: 'UTC', retention: 0, fullInterval: 0, concurrency: 2, enabled: true };
        const { policy: created } = await client.createPolicy({ settings: mergeSettings(empty, name, options) });
        if (options.json) printJson(io, created);
        else io.out(`created policy ${name}; next run ${humanTime(created!.nextRunAtMs)}\n`);
      }),
    );
}

function registerList(policy: Command, io: CliIo): void {
  withConnection(policy.command('list').description('list policies'))
    .option('--json', 'print JSON')
    .action(
      commandAction<[], object>(io, async ({ client, options }) => {
        const { policies } = await client.listPolicies();
        if (options.json) return printJson(io, policies);
        io.out(
          formatTable(policies, [
            { header: 'NAME', value: (p) => p.settings!.name },
            { header: 'ENABLED', value: (p) => (p.settings!.enabled ? 'yes' : 'no') },
            { header: 'VMS', value: (p) => describeSelection(p.settings!.selection) },
            { header: 'REMOTES', value: (p) => p.settings!.remotes.join(',') },
            { header: 'SCHEDULE', value: (p) => `${p.settings!.cron} ${p.settings!.timeZone}` },
            { header: 'KEEP', value: (p) => p.settings!.retention, right: true },
            { header: 'FULL', value: (p) => p.settings!.fullInterval, right: true },
            { header: 'NEXT RUN', value: (p) => humanTime(p.nextRunAtMs) },
            { header: 'LAST RUN', value: (p) => p.lastRunState || '-' },
          ]),
        );
      }),
    );
}

function registerShow(policy: Command, io: CliIo): void {
  withConnection(policy.command('show <name>').description('show one policy'))
    .option('--json', 'print JSON')
    .action(
      commandAction<[string], object>(io, async ({ client, options }, name) => {
        const { policy: found } = await client.getPolicy({ name });
        if (options.json) printJson(io, found);
        else printPolicy(io, found!);
      }),
    );
}

function registerEdit(policy: Command, io: CliIo): void {
  settingsOptions(withConnection(policy.command('edit <name>').description('change settings of a policy (only the options given)')), true)
    .option('--rename <new-name>', 'give the policy a new name')
    .option('--json', 'print the policy as JSON')
    .action(
      commandAction<[string], SettingsFlags>(io, async ({ client, options }, name) => {
        const { policy: current } = await client.getPolicy({ name });
        const settings = mergeSettings(current!.settings!, options.rename ?? name, options);
        const { policy: updated } = await client.updatePolicy({ name, settings });
        if (options.json) printJson(io, updated);
        else printPolicy(io, updated!);
      }),
    );
}

function registerDelete(policy: Command, io: CliIo): void {
  withConnection(policy.command('delete <name>').description('delete a policy (its backups stay on the remotes and in the catalogue)'))
    .action(
      commandAction<[string], object>(io, async ({ client }, name) => {
        await client.deletePolicy({ name });
        io.out(`deleted policy ${name}\n`);
      }),
    );
}

function registerEnableDisable(policy: Command, io: CliIo): void {
  for (const enabled of [true, false]) {
    withConnection(policy.command(`${enabled ? 'enable' : 'disable'} <name>`).description(enabled ? 'resume scheduled runs of a policy' : 'stop scheduled runs of a policy (manual runs still work)'))
      .action(
        commandAction<[string], object>(io, async ({ client }, name) => {
          await client.setPolicyEnabled({ name, enabled });
          io.out(`${enabled ? 'enabled' : 'disabled'} policy ${name}\n`);
        }),
      );
  }
}

function registerRun(policy: Command, io: CliIo): void {
  withConnection(policy.command('run <name>').description('run a policy now'))
    .option('--full', 'export every disk full (start new chains)')
    .option('--vm <uuid>', 'only this VM of the policy; repeat for several', collect)
    .option('--json', 'print the recorded run as JSON')
    .action(
      commandAction<[string], { full?: boolean; vm?: string[] }>(io, async ({ client, options }, name) => {
        const { run } = await client.runPolicy({ name, forceFull: options.full ?? false, vmUuids: options.vm ?? [] });
        if (options.json) return printJson(io, run);
        printRunDetail(io, run!, Date.now());
        io.out(`follow it with: deltachain run watch ${shortId(run!.run!.id)}\n`);
      }),
    );
}

export function registerPolicyCommands(program: Command, io: CliIo): void {
  const policy = program.command('policy').description('backup policies: which VMs, to which remotes, when, how much history');
  registerCreate(policy, io);
  registerList(policy, io);
  registerShow(policy, io);
  registerEdit(policy, io);
  registerDelete(policy, io);
  registerEnableDisable(policy, io);
  registerRun(policy, io);
}
