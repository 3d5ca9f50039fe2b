// The Deltachain data-plane harness for the benchmark suite: real lab pool, storage
// agent and host agent processes, backups and restores driven through NATS tasks and measured
// (wall time, CPU per process from /proc, bytes read, sent and stored, peak RSS).
export { startDeltachainStack } from './stack.js';
export type { DcBackupMeasure, DcRestoreMeasure, DeltachainStack, DeltachainStackOptions, DiskContent, ProcessName, WriteOptions } from './types.js';
