// Everything a long-running process needs to be observed, in one object: its metrics registry,
// its health checks, and — when its config has a `metrics` section — the server of /healthz and
// /metrics. Started first (so /healthz says "starting" while the process starts), marked ready
// when the process is, marked stopping as soon as a shutdown begins (a load balancer or
// orchestrator stops sending work), and closed last.
import type { Logger } from '../logging/index.js';
import { HealthChecks, type ProcessPhase } from './health-checks.js';
import type { MetricsConfig } from './metrics-config.js';
import { startObservabilityServer, type ObservabilityServer } from './observability-server.js';
import { ProcessMetrics } from './process-metrics.js';

export interface ProcessObservabilityOptions {
  /** "coordinator", "storage-agent", "host-agent", "lab-pool". */
  role: string;
  version: string;
  /** The process's `metrics` config section; without it nothing is served. */
  config?: MetricsConfig | undefined;
  logger?: Logger | undefined;
}

export interface ProcessObservability {
  readonly metrics: ProcessMetrics;
  readonly health: HealthChecks;
  /** The server, when one is configured. */
  readonly server: ObservabilityServer | undefined;
  setPhase(phase: ProcessPhase): void;
  close(): Promise<void>;
}

export async function startProcessObservability(options: ProcessObservabilityOptions): Promise<ProcessObservability> {
  const metrics = new ProcessMetrics({ role: options.role, version: options.version, logger: options.logger });
  const health = new HealthChecks({ role: options.role, version: options.version });
  metrics.setReady(false);
  let server: ObservabilityServer | undefined;
  if (options.config) {
    server = await startObservabilityServer({ listen: options.config.listen, tls: options.config.tls, health, metrics, logger: options.logger });
    options.logger?.info({ address: server.address, port: server.port, scheme: server.scheme }, 'observability listening');
  }
  return {
    metrics,
    health,
    server,
    setPhase(phase) {
      health.setPhase(phase);
      metrics.setReady(phase === 'ready');
    },
    async close() {
      await server?.close();
    },
  };
}
