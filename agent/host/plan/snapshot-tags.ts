// How the host agent marks its snapshots on the pool. The snapshot VM and each of its VDIs carry
// these `other_config` keys; they are the agent's only memory between runs (the reference for the
// next delta lives on the pool, next to the data it describes):
//   deltachain:policy       policy id            deltachain:vm        source VM uuid
//   deltachain:datetime     ISO-8601 UTC          deltachain:chain-length  deltas since the full
//   deltachain:task         task id               deltachain:backup    backup id(s), comma-separated
//   deltachain:remotes      the remote ids the backup went to, sorted, comma-separated
//   deltachain:exported     "true", set only after every remote committed the backup
//   deltachain:result       the task's result (JSON), set just before `exported`
//   deltachain:vdi          (on VDIs) the source VDI uuid = the disk key on remotes
// A reference belongs to a policy, a VM *and* the set of remotes its backup went to: when the
// coordinator sends one task per remote, each remote keeps its own reference, so a backup to one
// remote never destroys the base another remote's next delta needs.
// The snapshot's name also carries the policy id, so a snapshot left untagged by a crash between
// `VM.snapshot` and tagging is still recognised as ours.
import type { OtherConfig } from '../xapi/xapi-records.js';

export const TAG = Object.freeze({
  policy: 'deltachain:policy',
  vm: 'deltachain:vm',
  datetime: 'deltachain:datetime',
  chainLength: 'deltachain:chain-length',
  task: 'deltachain:task',
  backup: 'deltachain:backup',
  remotes: 'deltachain:remotes',
  exported: 'deltachain:exported',
  result: 'deltachain:result',
  vdi: 'deltachain:vdi',
});

/** Marks a live VDI that backups must skip (`other_config`), like XO's `[NOBAK]` name prefix. */
export const SKIP_TAG = 'deltachain:skip';
export const NOBAK_PREFIX = '[NOBAK]';

export interface SnapshotTags {
  policyId: string;
  vmUuid: string;
  datetime: string;
  chainLength: number;
  taskId: string;
  backupIds: string[];
  /** The remote set, as `remotesKey` spells it. */
  remotes: string;
  exported: boolean;
  /** The result JSON recorded at commit time, if any. */
  result: string | undefined;
}

/** The tags to put on a new snapshot (not yet exported). */
export function snapshotTags(tags: Omit<SnapshotTags, 'exported' | 'result'>): OtherConfig {
  return {
    [TAG.policy]: tags.policyId,
    [TAG.vm]: tags.vmUuid,
    [TAG.datetime]: tags.datetime,
    [TAG.chainLength]: String(tags.chainLength),
    [TAG.task]: tags.taskId,
    [TAG.backup]: tags.backupIds.join(','),
    [TAG.remotes]: tags.remotes,
  };
}

/** Reads our tags; undefined when the snapshot is not (fully) tagged by us. */
export function readSnapshotTags(otherConfig: OtherConfig): SnapshotTags | undefined {
  const policyId = otherConfig[TAG.policy];
  const vmUuid = otherConfig[TAG.vm];
  const datetime = otherConfig[TAG.datetime];
  const taskId = otherConfig[TAG.task];
  if (policyId === undefined || vmUuid === undefined || datetime === undefined || taskId === undefined) return undefined;
  const chainLength = Number(otherConfig[TAG.chainLength] ?? '0');
  return {
    policyId,
    vmUuid,
    datetime,
    chainLength: Number.isInteger(chainLength) && chainLength >= 0 ? chainLength : 0,
    taskId,
    backupIds: (otherConfig[TAG.backup] ?? '').split(',').filter((id) => id !== ''),
    remotes: otherConfig[TAG.remotes] ?? '',
    exported: otherConfig[TAG.exported] === 'true',
    result: otherConfig[TAG.result],
  };
}

/** The remote set of a backup as one tag value: ids sorted, comma-separated. */
export function remotesKey(remoteIds: readonly string[]): string {
  return [...new Set(remoteIds)].sort().join(',');
}

const NAME_PREFIX = '[deltachain ';

/** The name of a snapshot taken for `policyId` (the policy id is how untagged leftovers are found). */
export function snapshotName(policyId: string, vmName: string): string {
  return `${NAME_PREFIX}${policyId}] ${vmName}`;
}

/** The policy id in a name made by `snapshotName`, or undefined. */
export function policyIdFromSnapshotName(name: string): string | undefined {
  if (!name.startsWith(NAME_PREFIX)) return undefined;
  const end = name.indexOf(']', NAME_PREFIX.length);
  return end === -1 ? undefined : name.slice(NAME_PREFIX.length, end);
}
