// What a task is, apart from where it is stored or how it is sent: its kinds, its payloads and
// the ids it is given. Scheduler, dispatch, events and api share these.
export { randomIds, type Ids } from './ids.js';
export type { AddressKind, TaskKind } from './task-kinds.js';
export { policyIdOf } from './task-payloads.js';
export type {
  BackupPayload,
  DeletePayload,
  KindAndPayload,
  MergePayload,
  MirrorPayload,
  PlannedDisk,
  ReleasePayload,
  RestorePayload,
  ScanPayload,
  TaskPayload,
  TaskPayloads,
  VerifyPayload,
} from './task-payloads.js';
