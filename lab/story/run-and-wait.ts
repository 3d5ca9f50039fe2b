// Drives the coordinator through its control API the way the CLI does, and waits for the
// outcome: a policy run until the run and every task it brought (backups, then the merges and
// deletions retention asked for) are finished; a restore until its task is. Polls (a run is
// seconds long; the CLI's `run watch` streams the same states).
import type { ControlClient } from '../../coordinator/api/control-client.js';
import type * as wire from '../../shared/proto/gen/deltachain/control/v1/control.js';
import { DeltachainError } from '../../shared/errors.js';

export class LabWaitError extends DeltachainError {
  override name = 'LabWaitError';
  constructor(message: string) {
    super('LAB_TIMEOUT', message);
  }
}

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);
const POLL_MS = 150;

export function isTerminal(state: string): boolean {
  return TERMINAL.has(state);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function describeTasks(tasks: wire.TaskInfo[]): string {
  return tasks.map((t) => `  ${t.kind} ${t.address} ${t.state} (attempt ${t.attempt})${t.errorCode ? ` ${t.errorCode}: ${t.errorMessage}` : ''}`).join('\n');
}

function finished(run: wire.RunDetail | undefined): run is wire.RunDetail {
  return run?.run !== undefined && run.run.finishedAtMs > 0 && run.tasks.every((t) => isTerminal(t.state));
}

/** Codes of a poll that failed for a while only: the coordinator (or its catalogue) away, or slow. */
const PASSING = new Set(['COORDINATOR_TIMEOUT', 'COORDINATOR_UNAVAILABLE', 'CATALOG_UNAVAILABLE']);

/** A poll's answer, or undefined when it failed for a passing reason (a failover, a link down): poll again. */
async function passing<T>(call: Promise<T>): Promise<T | undefined> {
  try {
    return await call;
  } catch (error) {
    if (error instanceof DeltachainError && PASSING.has(error.code)) return undefined;
    throw error;
  }
}

/**
 * Waits until the run has finished and every task of it is terminal. A finished run holds every
 * task it brought: the coordinator queues the retention a backup triggers in the same transaction
 * that records the backup, before the run can be seen finished.
 */
export async function waitForRun(control: ControlClient, runId: string, timeoutMs = 120_000): Promise<wire.RunDetail> {
  const deadline = Date.now() + timeoutMs;
  let last: wire.RunDetail | undefined;
  while (Date.now() < deadline) {
    last = (await passing(control.getRun({ id: runId })))?.run ?? last;
    if (finished(last)) return last;
    await sleep(POLL_MS);
  }
  throw new LabWaitError(`run ${runId} did not finish within ${timeoutMs / 1000} s (state ${last?.run?.state}):\n${describeTasks(last?.tasks ?? [])}`);
}

/** Runs a policy now (as `deltachain policy run NAME`) and waits for the run to finish. */
export async function runPolicyAndWait(control: ControlClient, policy: string, options: { forceFull?: boolean; timeoutMs?: number } = {}): Promise<wire.RunDetail> {
  const { run } = await control.runPolicy({ name: policy, forceFull: options.forceFull ?? false, vmUuids: [] });
  return waitForRun(control, run!.run!.id, options.timeoutMs);
}

/** Waits until a task is terminal. */
export async function waitForTask(control: ControlClient, taskId: string, timeoutMs = 120_000): Promise<wire.TaskInfo> {
  const deadline = Date.now() + timeoutMs;
  let last: wire.TaskInfo | undefined;
  while (Date.now() < deadline) {
    last = (await control.getTask({ id: taskId })).task;
    if (last && isTerminal(last.state)) return last;
    await sleep(POLL_MS);
  }
  throw new LabWaitError(`task ${taskId} did not finish within ${timeoutMs / 1000} s (state ${last?.state})`);
}

export interface RestoreOutcome {
  task: wire.TaskInfo;
  /** The backup the request resolved to. */
  backup: wire.Backup;
  /** The new VM's uuid (empty when the task failed). */
  newVmUuid: string;
}

/** Restores (as `deltachain restore`) and waits for the new VM. */
export async function restoreAndWait(control: ControlClient, request: wire.RestoreRequest, timeoutMs = 120_000): Promise<RestoreOutcome> {
  const { task, backup } = await control.restore(request);
  const done = await waitForTask(control, task!.id, timeoutMs);
  const result = done.resultJson === '' ? {} : (JSON.parse(done.resultJson) as { newVmUuid?: string });
  return { task: done, backup: backup!, newVmUuid: result.newVmUuid ?? '' };
}
