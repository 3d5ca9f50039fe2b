// Fires enabled policies on their cron schedules. Each tick asks, per policy, for the newest
// firing due since the last one recorded (or since the policy was last changed) and records a
// run for it; recording is idempotent, so a restart, a slow tick or a second coordinator can
// never produce two runs for one firing. A firing that finds the policy's previous run still
// pending or running does not start a second one: it is recorded as a `skipped` run naming the
// active one, and logged. Between ticks it sleeps until the next firing (at most `maxSleepMs`),
// and `wake()` re-reads policies at once after an edit.
import type { Catalogue, RunRecord } from '../catalogue/index.js';
import { insertSkippedRun, lastScheduledAt, listPolicies, RunInProgressError } from '../catalogue/index.js';
import type { TaskLimits } from '../lifecycle/index.js';
import { nextFireTime, type Policy } from '../policy/index.js';
import type { Logger } from '../../shared/logging/index.js';
import { ServiceLoop } from '../../shared/service-loop.js';
import { dueFiring } from './due-firing.js';
import type { Ids } from '../tasks/index.js';
import { recordRun } from './record-run.js';

export interface SchedulerOptions {
  sql: Catalogue;
  clock: () => Date;
  ids: Ids;
  limits: TaskLimits;
  logger: Logger;
  /** Called after a new run was recorded (the dispatcher wakes up). */
  onRun?: (run: RunRecord) => void;
  /** Longest sleep between ticks, milliseconds; default 30 000. */
  maxSleepMs?: number;
}

export class Scheduler extends ServiceLoop {
  constructor(private readonly options: SchedulerOptions) {
    super({ afterFailureMs: (options.maxSleepMs ?? 30_000) + 5, onError: (error) => options.logger.error({ err: error }, 'scheduler tick failed') });
  }

  /** Sleeps until a few milliseconds past the next firing, so that the next tick finds it due. */
  protected async round(): Promise<number> {
    const maxSleepMs = this.options.maxSleepMs ?? 30_000;
    const next = await this.tick();
    const until = next === undefined ? maxSleepMs : next.getTime() - this.options.clock().getTime();
    return Math.max(0, Math.min(maxSleepMs, until)) + 5;
  }

  /** Records the runs that are due; returns when the next firing is. */
  async tick(): Promise<Date | undefined> {
    const { sql, clock } = this.options;
    let earliest: Date | undefined;
    for (const policy of await listPolicies(sql, { enabledOnly: true })) {
      const after = await this.firingBase(policy);
      const now = clock();
      const due = dueFiring(policy.schedule, after, now);
      if (due) await this.fire(policy, due);
      const next = nextFireTime(policy.schedule, due ?? (after > now ? after : now));
      if (next && (!earliest || next < earliest)) earliest = next;
    }
    return earliest;
  }

  private async firingBase(policy: Policy): Promise<Date> {
    const last = await lastScheduledAt(this.options.sql, policy.id);
    return last && last > policy.updatedAt ? last : policy.updatedAt;
  }

  private async fire(policy: Policy, scheduledAt: Date): Promise<void> {
    const { sql, ids, limits, clock, logger } = this.options;
    let recorded;
    try {
      recorded = await recordRun(sql, { policy, scheduledAt, trigger: 'schedule' }, ids, limits, clock());
    } catch (error) {
      if (!(error instanceof RunInProgressError) || !error.activeRun) throw error;
      return this.skip(policy, scheduledAt, error.activeRun);
    }
    if (!recorded.created) return;
    logger.info({ policy: policy.name, runId: recorded.run.id, scheduledAt, tasks: recorded.taskIds.length }, 'run recorded');
    this.options.onRun?.(recorded.run);
  }

  private async skip(policy: Policy, scheduledAt: Date, active: RunRecord): Promise<void> {
    const { sql, ids, clock, logger } = this.options;
    const run = { id: ids.uuid(), policyId: policy.id, policyName: policy.name, scheduledAt, trigger: 'schedule' as const, createdAt: clock() };
    if (!(await insertSkippedRun(sql, run, active))) return;
    logger.warn({ policy: policy.name, scheduledAt, runId: run.id, activeRunId: active.id, activeState: active.state }, 'firing skipped: the policy’s previous run is still active');
  }
}
