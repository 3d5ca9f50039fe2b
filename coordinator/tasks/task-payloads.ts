// What the coordinator stores in `tasks.payload` for each kind of task: the decisions made and
// the ids chosen, as plain JSON. The dispatcher turns a payload into the wire envelope
// (proto deltachain.tasks.v1) at the last moment; `run show` reads payloads as they are.
import type { ReleaseReason } from '../planner/index.js';

/** Disk key → how the disk is exported, decided at dispatch. */
export interface PlannedDisk {
  mode: 'full' | 'delta';
  reason: string;
  /** Delta only: the snapshot VDI the delta is exported against. */
  baseVdiUuid?: string;
}

export interface BackupPayload {
  policyId: string;
  policyName: string;
  retention: number;
  /** The policy's purgeSnapshotData when the task was made; absent (older tasks) = true. */
  purgeSnapshotData?: boolean;
  /** Chosen when the task is created and kept across attempts (idempotent commit). */
  backupId: string;
  vmName: string;
  forceFull: boolean;
  /** Filled at dispatch: the plan per disk (disks not named go full). */
  plan?: Record<string, PlannedDisk>;
  /** Filled at dispatch: the reference snapshot the deltas are based on. */
  referenceSnapshotUuid?: string;
  /** Filled at dispatch: the remote's storage agent address. */
  storageAddress?: string;
  /** Filled at dispatch: every remote the policy writes to then (the host agent keeps references for them only). */
  policyRemotes?: string[];
}

export interface MergePayload {
  /** The delta backup merged into its parent(s). */
  backupId: string;
  retires: string[];
  policyId: string | null;
  /** Set when the retention is a mirror's, on its target (the mirror's retention decides). */
  mirrorId?: string;
}

export interface DeletePayload {
  backupId: string;
  policyId: string | null;
  /** As MergePayload's. */
  mirrorId?: string;
}

/** Copy one restore point of a VM from the mirror's source remote to its target (the task's address). */
export interface MirrorPayload {
  mirrorId: string;
  mirrorName: string;
  sourceRemote: string;
  backupId: string;
  /** The source backup's policy and VM name, which the copy keeps. */
  policyId: string | null;
  vmName: string;
  /** What the catalogue holds of each disk on the source (hex chain digest, '' when unknown). */
  disks: { diskKey: string; footerUuid: string; chainDigest: string }[];
  /** Filled at dispatch: the source remote's storage agent address. */
  sourceAddress?: string;
}

export interface ScanPayload {
  removeGarbage: boolean;
  graceSeconds: number;
}

export interface VerifyPayload {
  backupId: string;
}

/** Reference snapshots a policy no longer needs, destroyed by a pool's host agent (planner/plan-releases.ts). */
export interface ReleasePayload {
  policyId: string;
  policyName: string;
  reason: ReleaseReason;
  /** The VMs whose references go; empty = every VM of the pool with a reference of the policy. */
  vmUuids: string[];
  /** The remotes whose references stay. */
  keepRemotes: string[];
  /** Filled at dispatch: VMs held back because a reference to release still seeds a kept remote. */
  heldAsSeed?: string[];
}

export interface RestorePayload {
  backupId: string;
  /** The pool restored to (the task's address) and the SR there. */
  srUuid: string;
  /** Name of the new VM; empty = the backup's VM name with the backup date. */
  name: string;
  storageAddress?: string;
  /**
   * Disk key → hex chain digest recorded for the backup's disk, read from the catalogue when the
   * task is queued; the host agent checks each restored disk against it. Disks without one
   * (recorded before digests were kept) are absent.
   */
  expectedChainDigests?: Record<string, string>;
  /** Keep the stored record's boot-path and passthrough fields (restore --keep-boot-config). */
  keepBootConfig?: boolean;
  /** The backup's disk keys, as the catalogue recorded them when the task was queued: the disks
   * the task's read grant names (absent: every disk of the backup). */
  diskKeys?: string[];
}

/** Each kind of task's payload. */
export interface TaskPayloads {
  backup: BackupPayload;
  merge: MergePayload;
  delete: DeletePayload;
  scan: ScanPayload;
  restore: RestorePayload;
  verify: VerifyPayload;
  release: ReleasePayload;
  mirror: MirrorPayload;
}

/** A task's kind with its payload: checking `kind` tells the payload's type. */
export type KindAndPayload = { [K in keyof TaskPayloads]: { kind: K; payload: TaskPayloads[K] } }[keyof TaskPayloads];

export type TaskPayload = KindAndPayload['payload'];

/** The policy a payload belongs to, for the kinds that have one. */
export function policyIdOf(payload: TaskPayload): string | undefined {
  return 'policyId' in payload && typeof payload.policyId === 'string' ? payload.policyId : undefined;
}
