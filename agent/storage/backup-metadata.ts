// The per-backup metadata JSON: the commit point of a backup (docs/remote-format.md §4).
// Parsed through a schema on every read: a remote's files are input like any other.
import { mkdir, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import type { ChecksumRule } from '../../shared/grpc/disk-checksum.js';
import { RemoteFormatError } from './errors.js';
import { ID_PATTERN, UUID_PATTERN } from './ids.js';
import { readFileIfPresent, writeFileAtomic, writeFileExclusive } from '../../shared/files/atomic-write.js';

/** The version written; versions 1 (no `chainDigest` in disk records) and 2 (no `chainDigestRule`) are still read. */
export const BACKUP_METADATA_VERSION = 3;

const uuid = z.string().regex(UUID_PATTERN);
const id = z.string().regex(ID_PATTERN);
const idText = ID_PATTERN.source.slice(1, -1);
const relativeFile = z.string().regex(new RegExp(`^disks/${idText}/${idText}\\.vhd$`));
const count = z.number().int().min(0);
const digest = z.string().regex(/^sha256:[0-9a-f]{64}$/);

const diskRecordSchema = z
  .object({
    key: id,
    file: relativeFile,
    vdiUuid: z.string().nullable(),
    snapshotVdiUuid: z.string().nullable(),
    virtualSize: count,
    blockSize: count,
    fileSize: count,
    blockCount: count,
    footerUuid: uuid,
    parentFooterUuid: uuid.nullable(),
    parentFile: relativeFile.nullable(),
    chainPosition: count,
    digest,
    /** The digest of the disk a restore of this backup produces (§6); absent in version 1. */
    chainDigest: digest.optional(),
    /** The rule of `chainDigest`'s block terms (§6): `pieces` (version 3 writers, remote format 5) or `blake3` (remote format 6); absent: `whole`. */
    chainDigestRule: z.enum(['pieces', 'blake3']).optional(),
  })
  .strict();

const metadataSchema = z
  .object({
    format: z.literal('deltachain-backup'),
    version: z.union([z.literal(1), z.literal(2), z.literal(BACKUP_METADATA_VERSION)]),
    backupId: id,
    vmUuid: uuid,
    timestamp: z.string(),
    committedAt: z.string(),
    policy: z.record(z.string(), z.unknown()),
    records: z.record(z.string(), z.unknown()),
    disks: z.array(diskRecordSchema).min(1),
  })
  .strict();

export type DiskRecord = z.infer<typeof diskRecordSchema>;
export type BackupMetadata = z.infer<typeof metadataSchema>;

/** The rule a disk's chain digest was taken by. */
export function chainDigestRuleOf(record: DiskRecord): ChecksumRule {
  return record.chainDigestRule ?? 'whole';
}

export function parseBackupMetadata(text: string, where: string): BackupMetadata {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new RemoteFormatError(`backup metadata ${where} is not JSON: ${(cause as Error).message}`, { cause });
  }
  const parsed = metadataSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new RemoteFormatError(`backup metadata ${where}: field ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return parsed.data;
}

/** The metadata, or undefined when the backup is not committed. */
export async function readBackupMetadata(path: string): Promise<BackupMetadata | undefined> {
  const text = await readFileIfPresent(path);
  return text === undefined ? undefined : parseBackupMetadata(text, path);
}

/** Writes a new backup's metadata — the commit point — never over an existing file (FinalFileExistsError). */
export async function createBackupMetadata(path: string, metadata: BackupMetadata): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFileExclusive(path, `${JSON.stringify(metadata, null, 2)}\n`);
}

/** Replaces a committed backup's metadata (the storage agent's own refresh after a merge). */
export async function writeBackupMetadata(path: string, metadata: BackupMetadata): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFileAtomic(path, `${JSON.stringify(metadata, null, 2)}\n`);
}

/** Names `<id>.json` of a backups folder (committed backups), sorted; empty when the folder is absent. */
export async function listMetadataFiles(folder: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(folder);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return names.filter((n) => n.endsWith('.json') && ID_PATTERN.test(n.slice(0, -5))).sort();
}

export function metadataPathIn(folder: string, backupId: string): string {
  return join(folder, `${backupId}.json`);
}
