// The catalogue: Postgres through the `postgres` client, one query per function.
export { connectCatalogue, pingCatalogue, type Catalogue, type CatalogueOptions, type Queryable, type Transaction } from './connect-catalogue.js';
export { migrateCatalogue, listMigrations, MIGRATIONS_FOLDER, type Migration, type MigrationReport } from './migrate-catalogue.js';
export {
  CatalogueError,
  CatalogueUnavailableError,
  ConflictError,
  NotFoundError,
  classifyCatalogueError,
  isConcurrencyAbort,
  isRetryableCatalogueError,
  isUniqueViolation,
  RETRYABLE_SQLSTATES,
} from './catalogue-errors.js';
export { addPool, getPool, knownPoolNames, listPools, type Pool, type PoolInput } from './pools.js';
export { addRemote, editRemote, getRemote, listRemotes, markRemoteScanned, registeredAddressOf, type Remote, type RemoteChanges, type RemoteInput } from './remotes.js';
export { listAgents, recordHeartbeat, type AgentHeartbeat, type AgentRecord, type AgentRole } from './agents.js';
export { deletePolicy, getPolicy, getPolicyByName, insertPolicy, listPolicies, setPolicyEnabled, updatePolicy } from './policies.js';
export { listVms, selectVms, upsertVm, type VmRecord } from './vms.js';
export { applyInventory, type InventoryDisk, type InventoryOutcome, type InventoryReport, type InventoryVmInput } from './vm-inventory.js';
export {
  activeRunOf,
  findRunsByPrefix,
  getRun,
  insertRun,
  insertSkippedRun,
  RunInProgressError,
  hasUnfinishedRun,
  lastScheduledAt,
  latestRunPerPolicy,
  listRuns,
  listUnfinishedRuns,
  lockOpenRuns,
  lockRun,
  saveRunOutcome,
  type RunInsert,
  type RunRecord,
  type RunTrigger,
} from './runs.js';
export {
  countTasksOfRun,
  getTask,
  getTasks,
  insertTask,
  insertTasks,
  listActiveTasksFor,
  inFlightFor,
  listInFlightKeys,
  listInFlightTasks,
  listOverdueTasks,
  listReadyTasks,
  listTasksOfRun,
  runActivity,
  runStateAndActivity,
  taskAddresses,
  withTaskLocked,
  type AddressKind,
  type TaskInsert,
  type TaskKind,
  type TaskPayload,
  type TaskOf,
  type TaskPick,
  type TaskRecord,
} from './tasks.js';
export type { BackupFacts, DiskFacts } from './backup-facts.js';
export {
  getBackup,
  getBackupByTask,
  diskKeysOfBackup,
  listBackups,
  listDisksOfBackup,
  recordBackup,
  type BackupFilter,
  type BackupListing,
  type BackupRecord,
  type BackupStatus,
  type DiskRecord,
} from './backups.js';
export { backupGroupsOfPolicy, chainTails, retentionView } from './chains.js';
export { chainKey, chainTailsOf, pairsWithActiveRetention, referenceKey, referencesOf, retentionViewsOf } from './planning-views.js';
export { lockTasks, saveTasks, type TaskSave } from './task-batches.js';
export { recordBackups, setReferences } from './record-backups.js';
export { applyDelete, applyMerge } from './retention-updates.js';
export { listReferences, markReferenceGone, setReference, type ReferenceInput } from './references.js';
export { adoptRemoteScan, adoptRemoteScanIn, type AdoptionReport } from './adopt-remote-scan.js';
export { acceptUnverified, catalogueMismatches, scanVerdict, type ScanVerdict } from './scan-trust.js';
export { forgetReleasedReferences, pairsWithActiveBackups, policyPoolKey, referencesOfPolicy } from './reference-releases.js';
export { chainDigestsOf, fillChainDigests } from './chain-digests.js';
export { markDamaged, type DamageFinding, type DamageFoundBy, type DamageRecord } from './disk-damage.js';
export { listAudit, recordAudit, type AuditEntry, type AuditFilter, type AuditOutcome } from './control-audit.js';
export { chainLengths, lastGoodBackups, taskCounts } from './metric-facts.js';
export { fenceTerm, leaveLease, LeaseLostError, readLease, takeLease, type LeaseAttempt, type LeaseState } from './coordinator-lease.js';
