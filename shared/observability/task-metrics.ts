// Task metrics: how many tasks are in each state (`deltachain_tasks{kind,state}`), how agents'
// tasks ended (`deltachain_tasks_finished_total{kind,outcome}`) and how long they ran. The
// coordinator fills the gauge from its catalogue at scrape time; an agent counts its own.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { DURATION_BUCKETS_SECONDS, METRIC } from './metric-names.js';

/** How an agent's task ended: a result published, or handed back to the queue at shutdown. */
export type TaskOutcomeLabel = 'succeeded' | 'failed' | 'handed_back';

export interface TaskCount {
  kind: string;
  state: string;
  count: number;
}

export class TaskMetrics {
  readonly tasks: Gauge<'kind' | 'state'>;
  readonly finished: Counter<'kind' | 'outcome'>;
  readonly duration: Histogram<'kind'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.tasks = new Gauge({ name: METRIC.tasks, help: 'Tasks by kind and state (coordinator: the catalogue; agent: its running tasks).', labelNames: ['kind', 'state'], registers });
    this.finished = new Counter({ name: METRIC.tasksFinished, help: 'Tasks this agent finished, by kind and outcome (succeeded, failed, handed_back).', labelNames: ['kind', 'outcome'], registers });
    this.duration = new Histogram({ name: METRIC.taskDuration, help: 'How long this agent\'s tasks ran, seconds.', labelNames: ['kind'], buckets: DURATION_BUCKETS_SECONDS, registers });
  }

  /** Replaces the gauge with a snapshot (states that vanished are dropped). */
  setCounts(counts: readonly TaskCount[]): void {
    this.tasks.reset();
    for (const c of counts) this.tasks.set({ kind: c.kind, state: c.state }, c.count);
  }

  finishedTask(kind: string, outcome: TaskOutcomeLabel, seconds?: number): void {
    this.finished.inc({ kind, outcome });
    if (seconds !== undefined) this.duration.observe({ kind }, seconds);
  }
}
