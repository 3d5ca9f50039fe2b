// Reads a backup's metadata file (docs/remote-format.md section 4) as a restore needs it: the
// XAPI records the backup stored (VM, VBDs, VDIs with their disk keys, VIFs with their networks)
// and each disk's virtual size. Metadata comes from a remote, so its shape is checked and a
// missing piece is named, rather than failing halfway through creating a VM.
import { z } from 'zod';
import { InvalidInputError } from '../../../shared/errors.js';
import type { BackupRecords } from './backup-records.js';

export interface StoredBackup {
  backupId: string;
  vmUuid: string;
  /** When the backup's snapshot was taken (ISO-8601). */
  timestamp: string;
  records: BackupRecords;
  disks: Array<{ key: string; virtualSize: number }>;
}

const record = z.object({ uuid: z.string() }).passthrough();

const metadataSchema = z
  .object({
    format: z.literal('deltachain-backup'),
    backupId: z.string(),
    vmUuid: z.string(),
    timestamp: z.string(),
    records: z.object({
      vm: record.extend({ name_label: z.string(), other_config: z.record(z.string(), z.string()) }),
      vbds: z.array(record.extend({ type: z.string(), userdevice: z.string() })),
      vdis: z.array(record.extend({ $diskKey: z.string() })),
      vifs: z.array(record.extend({ device: z.string() })),
    }),
    disks: z.array(z.object({ key: z.string(), virtualSize: z.number().int().positive() }).passthrough()).min(1),
  })
  .passthrough();

export function parseStoredBackup(json: string, where: string): StoredBackup {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (error) {
    throw new InvalidInputError(`${where}: the backup metadata is not JSON: ${(error as Error).message}`, { cause: error });
  }
  const parsed = metadataSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InvalidInputError(`${where}: the backup metadata cannot be restored from: ${issue.path.join('.') || '(top)'}: ${issue.message}`);
  }
  const metadata = parsed.data;
  return {
    backupId: metadata.backupId,
    vmUuid: metadata.vmUuid,
    timestamp: metadata.timestamp,
    records: metadata.records as unknown as BackupRecords,
    disks: metadata.disks.map((disk) => ({ key: disk.key, virtualSize: disk.virtualSize })),
  };
}
