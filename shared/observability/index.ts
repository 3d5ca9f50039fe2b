// Observability of a long-running process: Prometheus metrics (a registry per process, typed
// metric families), health checks, the /healthz + /metrics server, and the shutdown helpers
// process shells use. Named exports only.
export { metricsSchema, metricsTlsSchema, parseListen, type MetricsConfig, type MetricsTlsConfig, type ListenAddress } from './metrics-config.js';
export { HealthChecks, isReady, type ComponentCheck, type ComponentStatus, type HealthReport, type ProcessPhase } from './health-checks.js';
export { ProcessMetrics, type Refresher } from './process-metrics.js';
export { METRIC, DURATION_BUCKETS_SECONDS } from './metric-names.js';
export { TaskMetrics, type TaskCount, type TaskOutcomeLabel } from './task-metrics.js';
export { TransferMetrics, type TransferOperation } from './transfer-metrics.js';
export { BackupStateMetrics, type BackupStateFacts, type ChainLengthFact, type LastGoodBackupFact } from './backup-state-metrics.js';
export { measureTaskResult, type TaskResultMeasures, type TransferMeasure } from './task-result-measures.js';
export { AgentTaskMetrics, type TaskEventSink, type TaskHandler } from './agent-task-metrics.js';
export { startObservabilityServer, type ObservabilityServer, type ObservabilityServerOptions } from './observability-server.js';
export { startProcessObservability, type ProcessObservability, type ProcessObservabilityOptions } from './process-observability.js';
export { natsCheck, writableFolderCheck } from './component-checks.js';
export { waitForShutdownSignal, exitAfterStop } from './process-shutdown.js';
