// CommitBackup: writes a backup's metadata JSON — the commit point (docs/remote-format.md §4) —
// once every named disk is in place. Everything is checked first (ids, sizes of the records, each
// disk received and its chain reaching a full), then each disk's chain digest is computed (§6,
// chain-digest.ts: a chain whose stored data is damaged fails the commit with DATA_DAMAGED, so no
// backup is committed on top of damage); the metadata file is written last, atomically, and
// never over an existing one (link(2); docs/remote-format.md §7).
// Every disk's footer uuid, virtual size and disk digest, as the sender computed them while
// streaming (`sentDisks`), must equal the received file's: the digest is the file's own disk digest
// (§6, the PutDisk trailer's), not the chain digest, because the sender computes it from the
// blocks it streams without reading the base; it binds the commit to exactly the blocks sent, so
// a file swapped or altered between PutDisk and CommitBackup is refused (FAILED_PRECONDITION).
// Idempotent: the same backup id with the same disks returns the existing metadata unchanged.
// A caller that knows what the disks must be (a mirror: the chain digests the catalogue recorded
// at the source) checks them with `checkDisks`, after the chain digests and before the metadata
// is written: a refusal there commits nothing.
import { join } from 'node:path';
import { errorMessage } from '../../shared/errors.js';
import { BACKUP_METADATA_VERSION, createBackupMetadata, readBackupMetadata, type BackupMetadata, type DiskRecord } from './backup-metadata.js';
import { digestHex, WRITE_RULE, type PieceRule } from '../../shared/grpc/disk-checksum.js';
import { computeChainDigest } from './chain-digest.js';
import { buildDiskRecord, type DiskSourceInput } from './disk-record.js';
import { StorageConflictError, StorageNotFoundError, StorageSentMismatchError, StorageRequestError } from './errors.js';
import { FinalFileExistsError } from '../../shared/files/atomic-write.js';
import { validBackupId, validDiskKey, validUuid } from './ids.js';
import type { RemoteContext } from './remote-context.js';
import { readDiskFolderOf } from './vm-folder.js';

export const MAX_RECORDS_BYTES = 4 * 1024 * 1024;
export const MAX_POLICY_BYTES = 64 * 1024;

export interface CommitInput {
  backupId: string;
  vmUuid: string;
  timestampMs: number;
  diskKeys: string[];
  recordsJson: string;
  policyJson: string;
  diskSources: { diskKey: string; vdiUuid: string; snapshotVdiUuid: string }[];
  /** One per disk key: what the sender streamed. */
  sentDisks: SentDiskInput[];
}

export interface SentDiskInput {
  diskKey: string;
  footerUuid: string;
  /** Bytes. */
  virtualSize: number;
  /** The disk digest of the streamed blocks, 32 bytes. */
  digest: Buffer;
}

export interface CommitOutcome {
  metadataPath: string;
  alreadyCommitted: boolean;
  metadata: BackupMetadata;
}

export interface CommitOptions {
  /** Runs under the VM's lock once every disk's record and chain digest is known; throwing refuses the commit. */
  checkDisks?: (disks: readonly DiskRecord[]) => Promise<void>;
  /** The piece rule of a disk's chain digest; default the writers' (WRITE_RULE). A mirror's copy keeps its source's. */
  ruleOf?: (diskKey: string) => PieceRule;
}

export async function commitBackup(ctx: RemoteContext, input: CommitInput, options: CommitOptions = {}): Promise<CommitOutcome> {
  const checked = validateCommit(input);
  const path = ctx.layout.metadataPath(checked.vmUuid, checked.backupId);
  return ctx.locks.withVm(checked.vmUuid, async () => {
    const disks: DiskRecord[] = [];
    const needed: string[] = [];
    for (const key of checked.diskKeys) {
      const found = await diskRecordOf(ctx, checked, key);
      disks.push(found.record);
      if (found.needed) needed.push(key);
    }
    checkSent(checked, disks);
    const existing = await readBackupMetadata(path);
    if (existing) return sameBackup(ctx, existing, disks, path);
    if (needed.length > 0) {
      throw new StorageConflictError(
        `backup ${checked.backupId} (VM ${checked.vmUuid}): disk ${needed.join(', ')} is part of a committed chain already (a deleted backup's disk kept for its children); it is never committed again under a new metadata — back up under a new backup id`,
      );
    }
    for (const disk of disks) {
      const rule = options.ruleOf?.(disk.key) ?? WRITE_RULE;
      disk.chainDigest = await chainDigestOf(ctx, checked, disk, rule);
      disk.chainDigestRule = rule;
    }
    await options.checkDisks?.(disks);
    const metadata: BackupMetadata = {
      format: 'deltachain-backup',
      version: BACKUP_METADATA_VERSION,
      backupId: checked.backupId,
      vmUuid: checked.vmUuid,
      timestamp: new Date(checked.timestampMs).toISOString(),
      committedAt: ctx.now().toISOString(),
      policy: checked.policy,
      records: checked.records,
      disks,
    };
    try {
      await createBackupMetadata(path, metadata);
    } catch (error) {
      if (error instanceof FinalFileExistsError) throw new StorageConflictError(`backup ${checked.backupId} was committed meanwhile; a committed backup never changes`, { cause: error });
      throw error;
    }
    ctx.logger.info({ vm: checked.vmUuid, backupId: checked.backupId, disks: disks.length }, 'backup committed');
    return { metadataPath: ctx.layout.relative(path), alreadyCommitted: false, metadata };
  });
}

interface CheckedCommit extends CommitInput {
  records: Record<string, unknown>;
  policy: Record<string, unknown>;
  sources: Map<string, DiskSourceInput>;
  sent: Map<string, SentDiskInput>;
}

function validateCommit(input: CommitInput): CheckedCommit {
  validBackupId(input.backupId);
  validUuid(input.vmUuid, 'VM uuid');
  if (input.diskKeys.length === 0) throw new StorageRequestError('a backup needs at least one disk');
  for (const key of input.diskKeys) validDiskKey(key);
  if (new Set(input.diskKeys).size !== input.diskKeys.length) throw new StorageRequestError('disk keys must be unique');
  if (!Number.isSafeInteger(input.timestampMs) || input.timestampMs <= 0) throw new StorageRequestError('timestamp must be set (ms since the epoch)');
  const records = jsonObject(input.recordsJson, 'records_json', MAX_RECORDS_BYTES);
  const policy = input.policyJson === '' ? {} : jsonObject(input.policyJson, 'policy_json', MAX_POLICY_BYTES);
  const sources = new Map<string, DiskSourceInput>();
  for (const source of input.diskSources) {
    validDiskKey(source.diskKey, 'disk source key');
    if (!input.diskKeys.includes(source.diskKey)) throw new StorageRequestError(`disk source ${source.diskKey} is not one of the backup's disks`);
    sources.set(source.diskKey, {
      vdiUuid: validUuid(source.vdiUuid, `VDI uuid of disk ${source.diskKey}`),
      snapshotVdiUuid: validUuid(source.snapshotVdiUuid, `snapshot VDI uuid of disk ${source.diskKey}`),
    });
  }
  const sent = new Map<string, SentDiskInput>();
  for (const disk of input.sentDisks) {
    validDiskKey(disk.diskKey, 'sent disk key');
    if (!input.diskKeys.includes(disk.diskKey)) throw new StorageRequestError(`sent disk ${disk.diskKey} is not one of the backup's disks`);
    if (sent.has(disk.diskKey)) throw new StorageRequestError(`sent disk ${disk.diskKey} is given twice`);
    validUuid(disk.footerUuid, `footer uuid of sent disk ${disk.diskKey}`);
    if (!Number.isSafeInteger(disk.virtualSize) || disk.virtualSize <= 0) throw new StorageRequestError(`virtual size of sent disk ${disk.diskKey} must be a positive number of bytes`);
    if (disk.digest.length !== 32) throw new StorageRequestError(`digest of sent disk ${disk.diskKey} must be 32 bytes (the PutDisk trailer's digest)`);
    sent.set(disk.diskKey, disk);
  }
  return { ...input, records, policy, sources, sent };
}

/** Each received file must be what the sender streamed; refuses the commit on any difference. */
function checkSent(input: CheckedCommit, disks: readonly DiskRecord[]): void {
  const missing = input.diskKeys.filter((key) => !input.sent.has(key));
  if (missing.length > 0) {
    throw new StorageRequestError(`sent_disks lacks disk ${missing.join(', ')}: a commit names each disk's footer uuid, virtual size and digest as streamed`);
  }
  for (const disk of disks) {
    const sent = input.sent.get(disk.key)!;
    const where = `disk ${disk.key} of backup ${input.backupId} (VM ${input.vmUuid})`;
    const received = digestHex(sent.digest);
    const differences = [
      sent.footerUuid === disk.footerUuid ? undefined : `footer uuid ${sent.footerUuid} sent, ${disk.footerUuid} received`,
      sent.virtualSize === disk.virtualSize ? undefined : `virtual size ${sent.virtualSize} sent, ${disk.virtualSize} received`,
      received === disk.digest ? undefined : `digest ${received} sent, ${disk.digest} received`,
    ].filter((d) => d !== undefined);
    if (differences.length > 0) {
      throw new StorageSentMismatchError(`${where}: the received file is not what was sent (${differences.join('; ')}); nothing was committed — send the disks again under a new backup id`);
    }
  }
}

function jsonObject(text: string, field: string, maxBytes: number): Record<string, unknown> {
  if (Buffer.byteLength(text) > maxBytes) throw new StorageRequestError(`${field} is larger than ${maxBytes} bytes`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new StorageRequestError(`${field} is not JSON: ${errorMessage(error)}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new StorageRequestError(`${field} must be a JSON object`);
  return value as Record<string, unknown>;
}

/** The disk's record, and whether committed backups already need its file (as theirs or an ancestor). */
async function diskRecordOf(ctx: RemoteContext, input: CheckedCommit, diskKey: string): Promise<{ record: DiskRecord; needed: boolean }> {
  const { folder } = await readDiskFolderOf(ctx.layout, input.vmUuid, diskKey);
  const name = `${input.backupId}.vhd`;
  const file = folder.model.files.find((f) => f.name === name);
  if (!file) {
    throw new StorageNotFoundError(`disk ${diskKey} of backup ${input.backupId} (VM ${input.vmUuid}) was not received; send it with PutDisk first`);
  }
  const source = input.sources.get(diskKey) ?? { vdiUuid: null, snapshotVdiUuid: null };
  try {
    return { record: await buildDiskRecord(folder, file, source), needed: folder.needed.has(name) };
  } catch (error) {
    throw new StorageConflictError(`disk ${diskKey} of backup ${input.backupId}: ${errorMessage(error)}`, { cause: error });
  }
}

async function chainDigestOf(ctx: RemoteContext, input: CheckedCommit, disk: DiskRecord, rule: PieceRule): Promise<string> {
  const path = join(ctx.layout.vmFolder(input.vmUuid), disk.file);
  const target = { vmUuid: input.vmUuid, backupId: input.backupId, diskKey: disk.key, path, uncommitted: true, exclusive: true };
  const { digest, blocks, blocksRead, blocksComposed, fromParentTerms } = await computeChainDigest(ctx, target, { cacheTerms: true, rule });
  ctx.logger.debug({ vm: input.vmUuid, backupId: input.backupId, disk: disk.key, blocks, blocksRead, blocksComposed: blocksComposed ?? 0, fromParentTerms: fromParentTerms === true }, 'chain digest computed');
  return digestHex(digest);
}

function sameBackup(ctx: RemoteContext, existing: BackupMetadata, disks: DiskRecord[], path: string): CommitOutcome {
  const key = (d: DiskRecord): string => `${d.key}:${d.file}:${d.footerUuid}`;
  const had = existing.disks.map(key).sort().join(',');
  const now = disks.map(key).sort().join(',');
  if (had !== now) {
    throw new StorageConflictError(`backup ${existing.backupId} is already committed with other disks (${had}); a committed backup never changes`);
  }
  return { metadataPath: ctx.layout.relative(path), alreadyCommitted: true, metadata: existing };
}
