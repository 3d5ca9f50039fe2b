// Turns an agent's task result (proto deltachain.tasks.v1.TaskResult) into the measurements the
// metrics record: the outcome, per-disk transfers (bytes, seconds, full/delta/restore) and merge
// time. Pure, so the rules are tested without a registry: a result that an earlier delivery
// already reported (`redelivered`) moved nothing this time and adds no transfer; a failed result
// counts only as an outcome.
import { TaskStatus, type TaskResult } from '../proto/gen/deltachain/tasks/v1/event.js';
import type { TaskOutcomeLabel } from './task-metrics.js';
import type { TransferOperation } from './transfer-metrics.js';

export interface TransferMeasure {
  operation: TransferOperation;
  mode: string;
  bytes: number;
  seconds: number;
}

export interface TaskResultMeasures {
  outcome: Exclude<TaskOutcomeLabel, 'handed_back'>;
  /** The task's kind when the output names it (a failure has no output). */
  kind: string | undefined;
  seconds: number;
  transfers: TransferMeasure[];
  /** Seconds of a merge that merged at least one disk. */
  mergeSeconds: number | undefined;
}

export function measureTaskResult(result: TaskResult): TaskResultMeasures {
  const seconds = result.durationMs / 1000;
  const outcome = result.status === TaskStatus.TASK_STATUS_SUCCEEDED ? 'succeeded' : 'failed';
  const output = outcome === 'succeeded' ? result.output : undefined;
  const measures: TaskResultMeasures = { outcome, kind: result.output?.$case, seconds, transfers: [], mergeSeconds: undefined };
  if (output?.$case === 'backup' && output.value.report && !output.value.report.redelivered) {
    for (const d of output.value.report.disks) measures.transfers.push({ operation: 'backup', mode: d.mode || 'unknown', bytes: d.bytesSent, seconds: d.durationMs / 1000 });
  }
  if (output?.$case === 'restore' && output.value.report && !output.value.report.redelivered) {
    for (const d of output.value.report.disks) measures.transfers.push({ operation: 'restore', mode: 'restore', bytes: d.bytes, seconds: d.durationMs / 1000 });
  }
  if (output?.$case === 'merge' && output.value.disks.some((d) => d.merged)) measures.mergeSeconds = seconds;
  return measures;
}
