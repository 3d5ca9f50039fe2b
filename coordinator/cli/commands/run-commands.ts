// `deltachain run list|show|watch`.
import type { Command } from 'commander';
import type * as wire from '../../../shared/proto/gen/deltachain/control/v1/control.js';
import type { CliIo } from '../cli-io.js';
import { commandAction, printJson, withConnection } from '../command-action.js';
import { EXIT } from '../exit-codes.js';
import { formatFields, formatTable } from '../format-table.js';
import { humanDuration, humanTime, shortId } from '../format-values.js';
import { wholeNumber } from '../parse-arguments.js';
import { ProgressView, taskLabel } from '../progress-view.js';

function duration(run: wire.Run, now: number): string {
  if (run.startedAtMs === 0) return '-';
  return humanDuration((run.finishedAtMs || now) - run.startedAtMs);
}

function modes(t: wire.TaskInfo): string {
  if (t.kind !== 'backup') return '';
  const payload = JSON.parse(t.payloadJson || '{}') as { plan?: Record<string, { mode: string; reason: string }> };
  if (!payload.plan) return '';
  return Object.entries(payload.plan).map(([disk, p]) => `${disk}:${p.mode}`).join(' ');
}

export function printRunDetail(io: CliIo, detail: wire.RunDetail, now: number): void {
  const run = detail.run!;
  io.out(
    formatFields([
      ['run', run.id],
      ['policy', run.policyName],
      ['trigger', `${run.trigger} (scheduled ${humanTime(run.scheduledAtMs)})`],
      ['state', run.state],
      ['started', humanTime(run.startedAtMs)],
      ['finished', humanTime(run.finishedAtMs)],
      ['duration', duration(run, now)],
      ...(run.error ? ([['error', run.error]] as [string, string][]) : []),
    ]),
  );
  if (detail.tasks.length === 0) return;
  io.out('\n');
  io.out(
    formatTable(detail.tasks, [
      { header: 'TASK', value: (t) => shortId(t.id) },
      { header: 'WHAT', value: taskLabel },
      { header: 'STATE', value: (t) => t.state },
      { header: 'TRY', value: (t) => `${t.attempt}/${t.maxAttempts}`, right: true },
      { header: 'DISKS', value: modes },
      { header: 'SIDE', value: (t) => (t.errorCode ? t.errorSide : '') },
      { header: 'ERROR', value: (t) => (t.errorCode ? `${t.errorCode}: ${t.errorMessage}` : '') },
    ]),
  );
  const fulls = fullReasons(detail.tasks);
  if (fulls.length > 0) io.out(`\nwhy full:\n${fulls.map((line) => `  ${line}\n`).join('')}`);
  const reads = readMethods(detail.tasks);
  if (reads.length > 0) io.out(`\nhow read:\n${reads.map((line) => `  ${line}\n`).join('')}`);
}

/** One disk of a backup result as the coordinator keeps it (events/agent-event.ts BackupDiskRead). */
interface StoredDiskRead {
  diskKey?: string;
  readMethod?: string;
  fallbackReason?: string;
  fallbackDetail?: string;
}

/**
 * "<task> disk <key>: <method>[, CBT fallback <reason>: <detail>]" for every disk a finished backup
 * task of the run reported; results from agents that do not report it give no line.
 */
function readMethods(tasks: readonly wire.TaskInfo[]): string[] {
  return tasks.flatMap((t) => {
    if (t.kind !== 'backup' || t.resultJson === '') return [];
    const result = JSON.parse(t.resultJson) as { reads?: StoredDiskRead[] };
    return (result.reads ?? []).filter((d) => d.readMethod).map((d) => {
      const fallback = d.fallbackReason ? `, CBT fallback ${d.fallbackReason}${d.fallbackDetail ? `: ${d.fallbackDetail}` : ''}` : '';
      return `${shortId(t.id)} disk ${d.diskKey ?? '?'}: ${d.readMethod}${fallback}`;
    });
  });
}

/** "<task> disk <key>: <reason>" for every disk a backup task of the run exports full. */
function fullReasons(tasks: readonly wire.TaskInfo[]): string[] {
  return tasks.flatMap((t) => {
    if (t.kind !== 'backup') return [];
    const payload = JSON.parse(t.payloadJson || '{}') as { plan?: Record<string, { mode: string; reason: string }> };
    return Object.entries(payload.plan ?? {}).filter(([, p]) => p.mode === 'full').map(([disk, p]) => `${shortId(t.id)} disk ${disk}: ${p.reason}`);
  });
}

export function exitCodeOfRun(state: string): number {
  if (state === 'succeeded') return EXIT.OK;
  if (state === 'partial') return EXIT.PARTIAL;
  return EXIT.FAILED;
}

export function registerRunCommands(program: Command, io: CliIo): void {
  const run = program.command('run').description('runs of policies: what happened, and what is happening');

  withConnection(run.command('list').description('list recent runs, newest first'))
    .option('--policy <name>', 'only runs of this policy')
    .option('--limit <n>', 'at most this many runs (default 50)', wholeNumber(1, 1000))
    .option('--json', 'print JSON')
    .action(
      commandAction<[], { policy?: string; limit?: number }>(io, async ({ client, options }) => {
        const { runs } = await client.listRuns({ policy: options.policy ?? '', limit: options.limit ?? 0 });
        if (options.json) return printJson(io, runs);
        const now = Date.now();
        io.out(
          formatTable(runs, [
            { header: 'RUN', value: (r) => shortId(r.id) },
            { header: 'POLICY', value: (r) => r.policyName },
            { header: 'TRIGGER', value: (r) => r.trigger },
            { header: 'SCHEDULED', value: (r) => humanTime(r.scheduledAtMs) },
            { header: 'STATE', value: (r) => r.state },
            { header: 'DURATION', value: (r) => duration(r, now), right: true },
            { header: 'ERROR', value: (r) => r.error },
          ]),
        );
      }),
    );

  withConnection(run.command('show <run-id>').description('show a run and its tasks (an id or its first characters)'))
    .option('--json', 'print JSON')
    .action(
      commandAction<[string], object>(io, async ({ client, options }, id) => {
        const { run: detail } = await client.getRun({ id });
        if (options.json) printJson(io, detail);
        else printRunDetail(io, detail!, Date.now());
      }),
    );

  withConnection(run.command('watch <run-id>').description('follow a run until it finishes; exit 0 succeeded, 3 partial, 1 failed'))
    .option('--json', 'print each update as one JSON line')
    .action(
      commandAction<[string], object>(io, async ({ client, options }, id) => {
        const view = new ProgressView(io);
        let last: wire.RunDetail | undefined;
        for await (const { run: detail } of client.watchRun({ id })) {
          last = detail;
          if (options.json) io.out(JSON.stringify(detail) + '\n');
          else view.update(detail!.tasks);
        }
        if (!last) return EXIT.FAILED;
        if (!options.json) io.out(`run ${shortId(last.run!.id)} ${last.run!.state}${last.run!.error ? `: ${last.run!.error}` : ''}\n`);
        return exitCodeOfRun(last.run!.state);
      }),
    );
}
