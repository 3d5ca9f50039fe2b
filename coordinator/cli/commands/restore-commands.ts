// `deltachain restore` and `deltachain verify`.
import { Option, type Command } from 'commander';
import type * as wire from '../../../shared/proto/gen/deltachain/control/v1/control.js';
import { InvalidInputError } from '../../../shared/errors.js';
import type { CliIo } from '../cli-io.js';
import { commandAction, printJson, withConnection } from '../command-action.js';
import { EXIT } from '../exit-codes.js';
import { formatDamage, type DamageEntry } from '../format-damage.js';
import { humanTime } from '../format-values.js';
import { instant } from '../parse-arguments.js';
import { ProgressView } from '../progress-view.js';
import type { ControlClient } from '../../api/control-client.js';

async function follow(client: ControlClient, io: CliIo, tasks: wire.TaskInfo[], json: boolean): Promise<wire.TaskInfo[]> {
  const view = new ProgressView({ ...io, out: json ? () => {} : io.out });
  const latest = new Map(tasks.map((t) => [t.id, t]));
  await Promise.all(
    tasks.map(async (task) => {
      for await (const update of client.watchTask({ id: task.id })) {
        latest.set(task.id, update.task!);
        view.update([...latest.values()]);
      }
    }),
  );
  return [...latest.values()];
}

interface RestoreFlags {
  vm?: string;
  at?: Date;
  backup?: string;
  remote?: string;
  pool: string;
  sr: string;
  name?: string;
  keepBootConfig?: boolean;
  wait: boolean;
}

export function registerRestoreCommands(program: Command, io: CliIo): void {
  withConnection(program.command('restore').description('restore a whole VM from a backup onto a pool and SR (as a new VM)'))
    .addOption(new Option('--backup <id>', 'the backup to restore').conflicts(['vm', 'at']))
    .option('--vm <uuid>', 'the VM to restore (with --at)')
    .option('--at <date>', 'restore the VM as of this date: the newest backup at or before it', instant)
    .option('--remote <name>', 'only backups on this remote (with --backup: needed when the id is on several remotes)')
    .requiredOption('--pool <name>', 'the pool to restore to')
    .requiredOption('--sr <uuid>', 'the SR of that pool to put the disks on')
    .option('--name <name>', 'name of the new VM (default: the VM name and the backup date)')
    .option('--keep-boot-config', "give the new VM the backup's boot-path and passthrough fields (PV_bootloader, PV_kernel, PV_args, xenstore_data, other_config:pci, …); by default they are dropped and listed")
    .option('--no-wait', 'return once the restore is queued')
    .option('--json', 'print the task as JSON')
    .addHelpText('after', '\nExamples:\n  deltachain restore --vm 0b2f1c9e-... --at 2024-06-01T02:00:00Z --pool lab --sr 5c0e...\n  deltachain restore --backup 20240601T020000Z-3f9c1a2b --pool lab --sr 5c0e... --name web-restored')
    .action(
      commandAction<[], RestoreFlags>(io, async ({ client, options }) => {
        let what: wire.RestoreRequest['what'];
        if (options.backup) what = { $case: 'backupId', value: options.backup };
        else if (options.vm && options.at) what = { $case: 'point', value: { vmUuid: options.vm, atMs: options.at.getTime(), remote: options.remote ?? '' } };
        else throw new InvalidInputError('say what to restore: --backup ID, or --vm UUID with --at DATE');
        const { task, backup } = await client.restore({ what, pool: options.pool, srUuid: options.sr, name: options.name ?? '', backupRemote: options.backup ? (options.remote ?? '') : '', ...(options.keepBootConfig ? { keepBootConfig: true } : {}) });
        if (!options.json) io.out(`restoring backup ${backup!.id} (${humanTime(backup!.takenAtMs)}, remote ${backup!.remote}) to pool ${options.pool}\n`);
        if (!options.wait) return options.json ? printJson(io, task) : undefined;
        const [last] = await follow(client, io, [task!], options.json ?? false);
        if (options.json) printJson(io, last);
        else if (last!.state === 'succeeded') {
          io.out(`restored: ${last!.resultJson}\n`);
          io.out(droppedLine(last!.resultJson, options.keepBootConfig === true));
        }
        else io.err(`deltachain: restore ${last!.state}: ${last!.errorCode} ${last!.errorMessage}\n`);
        return last!.state === 'succeeded' ? EXIT.OK : EXIT.FAILED;
      }),
    );

  withConnection(program.command('verify').description('re-read backups on their remote, check every block against its checksum, and name and mark the damaged ones'))
    .addOption(new Option('--backup <id>', 'verify this backup').conflicts('vm'))
    .option('--vm <uuid>', 'verify every backup of this VM')
    .option('--remote <name>', 'only backups on this remote')
    .option('--no-wait', 'return once the verifications are queued')
    .option('--json', 'print the tasks as JSON')
    .action(
      commandAction<[], { backup?: string; vm?: string; remote?: string; wait: boolean }>(io, async ({ client, options }) => {
        let what: wire.VerifyRequest['what'];
        if (options.backup) what = { $case: 'backupId', value: options.backup };
        else if (options.vm) what = { $case: 'vmUuid', value: options.vm };
        else throw new InvalidInputError('say what to verify: --backup ID or --vm UUID');
        const { tasks } = await client.verify({ what, remote: options.remote ?? '' });
        if (!options.wait) return options.json ? printJson(io, tasks) : io.out(`queued ${tasks.length} verification${tasks.length === 1 ? '' : 's'}\n`);
        const done = await follow(client, io, tasks, options.json ?? false);
        return reportVerification(io, done, options.json ?? false);
      }),
    );
}

interface VerifyOutcome {
  task: wire.TaskInfo;
  backupId: string;
  ok: boolean;
  damaged: DamageEntry[];
}

/**
 * The verifications' verdict: every damaged backup named with its disks, files and bad blocks
 * (also in --json, as `damaged` on each task), verify tasks that could not run, and exit 1 when
 * any backup failed.
 */
function reportVerification(io: CliIo, done: wire.TaskInfo[], json: boolean): number {
  const outcomes: VerifyOutcome[] = done.map((task) => {
    const result = JSON.parse(task.resultJson || '{}') as { ok?: boolean; damaged?: DamageEntry[] };
    const backupId = (JSON.parse(task.payloadJson || '{}') as { backupId?: string }).backupId ?? '';
    return { task, backupId, ok: task.state === 'succeeded' && result.ok !== false, damaged: result.damaged ?? [] };
  });
  const bad = outcomes.filter((o) => !o.ok);
  if (json) {
    printJson(io, outcomes.map((o) => ({ ...o.task, damaged: o.damaged })));
    return bad.length === 0 ? EXIT.OK : EXIT.FAILED;
  }
  io.out(bad.length === 0 ? `all ${done.length} backups verified\n` : `${bad.length} of ${done.length} backups failed verification\n`);
  const damaged = formatDamage(outcomes.flatMap((o) => o.damaged));
  if (damaged !== '') io.out(`damaged backups — they do not restore correctly, and the next backup of each damaged disk is a full:\n${damaged}`);
  for (const o of bad.filter((b) => b.task.state !== 'succeeded')) {
    io.out(`  backup ${o.backupId}: the verification ${o.task.state}: ${o.task.errorCode} ${o.task.errorMessage}\n`);
  }
  return bad.length === 0 ? EXIT.OK : EXIT.FAILED;
}

/** What the restore left out of the stored VM record, as the operator should read it. */
export function droppedLine(resultJson: string, kept: boolean): string {
  if (kept) return "kept the backup's boot-path and passthrough fields (--keep-boot-config)\n";
  const dropped = (JSON.parse(resultJson || '{}') as { droppedFields?: string[] }).droppedFields ?? [];
  if (dropped.length === 0) return 'dropped from the stored VM record: nothing (it had no boot-path or passthrough fields)\n';
  return `dropped from the stored VM record: ${dropped.join(', ')} (restore --keep-boot-config keeps them)\n`;
}
