// What a mirror copies and how (docs/remote-format.md §7, "Mirrors"), decided before anything is
// read: pure, over the task, the source backup's metadata and which disks' parents the target
// holds. The source's metadata is checked against the task first — the same VM and backup, the
// same disks with the footer uuids the catalogue recorded — so the copy never writes a disk the
// coordinator did not ask for. Each disk, in the metadata's order, then goes
//   - "delta" when the target holds a committed chain whose tail is the source disk's parent
//     (HasBase on the parent's footer uuid, same disk key): GetDisk OWN, received on that parent;
//   - "full" otherwise: GetDisk BLOCKS (the chain folded), received as a new chain.
// The chain digest the copy must end up with is the task's (what the catalogue recorded at the
// source's commit), else — not known to the catalogue — the source metadata's; it is taken by the
// rule the source metadata records for it.
import type { ChecksumRule } from '../../../shared/grpc/disk-checksum.js';
import { digestHex } from '../../../shared/grpc/disk-checksum.js';
import { chainDigestRuleOf, type BackupMetadata } from '../backup-metadata.js';
import { StorageRequestError } from '../errors.js';

export interface MirrorTaskInput {
  vmUuid: string;
  backupId: string;
  sourceRemoteId: string;
  /** What the catalogue holds of each disk on the source. */
  disks: { diskKey: string; footerUuid: string; chainDigest: Uint8Array }[];
}

export type MirrorMode = 'delta' | 'full';

export interface PlannedDisk {
  diskKey: string;
  mode: MirrorMode;
  footerUuid: string;
  /** The source disk's parent: a delta's header must name it; undefined for a full copy. */
  parentFooterUuid: string | undefined;
  /** "sha256:hex" the target's chain digest must be, by `chainDigestRule`; undefined: not checked. */
  expectedChainDigest: string | undefined;
  chainDigestRule: ChecksumRule;
  /** Blocks the copy is expected to bring, for progress: the own file's, or at most the disk's for a full. */
  expectedBlocks: number;
  vdiUuid: string | null;
  snapshotVdiUuid: string | null;
}

export interface MirrorPlan {
  disks: PlannedDisk[];
  timestampMs: number;
}

/** `parentsHeld`: the disk keys whose source parent is a committed chain tail on the target. */
export function planMirror(task: MirrorTaskInput, source: BackupMetadata, parentsHeld: ReadonlySet<string>): MirrorPlan {
  checkSource(task, source);
  const wanted = new Map(task.disks.map((d) => [d.diskKey, d]));
  const disks = source.disks.map((record): PlannedDisk => {
    const asked = wanted.get(record.key)!;
    const delta = record.parentFooterUuid !== null && parentsHeld.has(record.key);
    return {
      diskKey: record.key,
      mode: delta ? 'delta' : 'full',
      footerUuid: record.footerUuid,
      parentFooterUuid: delta ? record.parentFooterUuid! : undefined,
      expectedChainDigest: asked.chainDigest.length > 0 ? digestHex(asked.chainDigest) : record.chainDigest,
      chainDigestRule: chainDigestRuleOf(record),
      expectedBlocks: delta ? record.blockCount : Math.ceil(record.virtualSize / record.blockSize),
      vdiUuid: record.vdiUuid,
      snapshotVdiUuid: record.snapshotVdiUuid,
    };
  });
  return { disks, timestampMs: Date.parse(source.timestamp) };
}

/** The source's metadata must be the backup the task names, with exactly the task's disks. */
function checkSource(task: MirrorTaskInput, source: BackupMetadata): void {
  const where = `backup ${task.backupId} of VM ${task.vmUuid} on source remote ${task.sourceRemoteId}`;
  const refuse = (why: string): never => {
    throw new StorageRequestError(`${where}: ${why}; nothing was copied`);
  };
  if (task.disks.length === 0) refuse('the mirror task lists no disk (MirrorTask.disks)');
  if (new Set(task.disks.map((d) => d.diskKey)).size !== task.disks.length) refuse('the mirror task lists a disk twice');
  for (const d of task.disks) if (d.chainDigest.length !== 0 && d.chainDigest.length !== 32) refuse(`the chain digest of disk ${d.diskKey} is not 32 bytes`);
  if (source.vmUuid !== task.vmUuid || source.backupId !== task.backupId) refuse(`the source answered with backup ${source.backupId} of VM ${source.vmUuid}`);
  if (!Number.isSafeInteger(Date.parse(source.timestamp)) || Date.parse(source.timestamp) <= 0) refuse(`its timestamp ${JSON.stringify(source.timestamp)} is not a date`);
  const keys = source.disks.map((d) => d.key);
  const asked = task.disks.map((d) => d.diskKey);
  if (keys.length !== asked.length || !asked.every((k) => keys.includes(k))) refuse(`it holds disks ${keys.join(', ')}, the catalogue ${asked.join(', ')}`);
  for (const d of task.disks) {
    const record = source.disks.find((r) => r.key === d.diskKey)!;
    if (record.footerUuid !== d.footerUuid) refuse(`disk ${d.diskKey} has footer uuid ${record.footerUuid} there, the catalogue recorded ${d.footerUuid}`);
  }
}
