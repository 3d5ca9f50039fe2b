// The coordinator's metrics, read from the catalogue at scrape time (catalogue/metric-facts.ts):
// tasks by kind and state, each disk chain's length on each remote, and the newest committed
// backup of each VM on each remote (timestamp and age). Nothing is cached: a scrape sees what
// the catalogue holds now, and a VM or chain that is gone disappears from the exposition.
import type { BackupStateFacts, ProcessMetrics } from '../../shared/observability/index.js';
import { BackupStateMetrics, TaskMetrics } from '../../shared/observability/index.js';
import { chainLengths, lastGoodBackups, taskCounts, type Queryable } from '../catalogue/index.js';

/** Registers the catalogue's metric families on the process's registry and refreshes them per scrape. */
export function registerCatalogueMetrics(metrics: ProcessMetrics, db: Queryable, clock: () => Date): void {
  const tasks = new TaskMetrics(metrics.registry);
  const backups = new BackupStateMetrics(metrics.registry);
  metrics.addRefresher('catalogue', async () => {
    const [counts, chains, lastGood] = await Promise.all([taskCounts(db), chainLengths(db), lastGoodBackups(db)]);
    const facts: BackupStateFacts = { chains, lastGood };
    tasks.setCounts(counts);
    backups.update(facts, clock());
  });
}
