// One Prometheus registry per process (never the global one: tests run several processes' code
// in one Node process), with Node's default metrics, `deltachain_build_info` and
// `deltachain_ready`. Sources that are read at scrape time (the catalogue's counts, the lab's
// inventory) register a refresher; `render()` runs them all, each with a time limit, and still
// answers when one fails (counted in `deltachain_metrics_refresh_failures_total`).
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { Logger } from '../logging/index.js';
import { METRIC } from './metric-names.js';

export type Refresher = () => void | Promise<void>;

export interface ProcessMetricsOptions {
  /** "coordinator", "storage-agent", "host-agent", "lab-pool". */
  role: string;
  version: string;
  logger?: Logger;
  /** Longest wait for one refresher, ms; default 5000. */
  refreshTimeoutMs?: number;
}

export class ProcessMetrics {
  readonly registry = new Registry();
  readonly #refreshers = new Map<string, Refresher>();
  readonly #ready: Gauge;
  readonly #failures: Counter<'source'>;
  readonly #options: ProcessMetricsOptions;

  constructor(options: ProcessMetricsOptions) {
    this.#options = options;
    collectDefaultMetrics({ register: this.registry });
    const info = new Gauge({ name: METRIC.buildInfo, help: 'Always 1; the role and version of this process.', labelNames: ['role', 'version'], registers: [this.registry] });
    info.set({ role: options.role, version: options.version }, 1);
    this.#ready = new Gauge({ name: METRIC.ready, help: '1 when the process is started and not stopping.', registers: [this.registry] });
    this.#failures = new Counter({ name: METRIC.refreshFailures, help: 'Collections of metrics from a source that failed or timed out.', labelNames: ['source'], registers: [this.registry] });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  setReady(ready: boolean): void {
    this.#ready.set(ready ? 1 : 0);
  }

  /** Runs `refresh` before every scrape (replaces one of the same name). */
  addRefresher(source: string, refresh: Refresher): void {
    this.#refreshers.set(source, refresh);
  }

  /** The exposition text: refreshers first (failures logged and counted), then every metric. */
  async render(): Promise<string> {
    await Promise.all([...this.#refreshers].map(([source, refresh]) => this.#refresh(source, refresh)));
    return this.registry.metrics();
  }

  async #refresh(source: string, refresh: Refresher): Promise<void> {
    const limit = this.#options.refreshTimeoutMs ?? 5000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${limit} ms`)), limit);
    });
    try {
      await Promise.race([Promise.resolve().then(refresh), timeout]);
    } catch (error) {
      this.#failures.inc({ source });
      this.#options.logger?.warn({ err: error, source }, 'metrics source failed');
    } finally {
      clearTimeout(timer);
    }
  }
}
