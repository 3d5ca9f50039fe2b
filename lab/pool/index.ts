// The lab pool's public surface: start one (tests, the end-to-end harness, `deltachain-lab
// pool`), its config, and the admin client the CLI and harnesses use.
export { startLabPool, type LabPool, type StartLabPoolOptions } from './lab-pool.js';
export { parseLabConfig, simpleFleet, type LabConfig, type FleetConfig, type VmConfig } from './config/lab-config.js';
export { faultsSchema, FAULT_NAMES, type FaultsConfig, type FaultName } from './faults/fault-config.js';
export { parseSize } from './config/parse-size.js';
export { WRITE_PATTERNS, type WritePattern } from './workload/write-plan.js';
export type { LabSummary, VmSummary } from './http/lab-summary.js';
export type { DiskDigest } from './workload/disk-digest.js';
export { LabAdminClient, LabAdminError, type LabWriteRequest, type LabWriteResult } from './client/lab-admin-client.js';
