// Damaged stored data, named for the operator: which backup and disk were being read, which file
// (relative to the remote root) and block failed its checksum, which committed backups depend on
// that file (its own backup and every later one whose chain holds it), and what to do. The host
// agent shows this message as is (gRPC DATA_LOSS, code DATA_DAMAGED).
import { basename } from 'node:path';
import { errorMessage } from '../../shared/errors.js';
import { ancestry } from './chain-model.js';
import { StorageDataError } from './errors.js';
import type { RemoteContext } from './remote-context.js';
import type { BackupMetadata } from './backup-metadata.js';
import { readDiskFolderOf, type DiskFolder } from './vm-folder.js';

export interface DamageSite {
  vmUuid: string;
  /** The backup being read (or committed, or merged). */
  backupId: string;
  diskKey: string;
  /** The damaged VHD, relative to the remote root. */
  path: string;
  /** The bad block, when the damage is one block. */
  block?: number;
  /** What is wrong; for a block, e.g. "does not match the checksum stored at commit". */
  reason: string;
}

export interface DependentBackup {
  backupId: string;
  /** ISO 8601, the backup's snapshot time. */
  timestamp: string;
}

/** Committed backups of the VM whose chain for `diskKey` holds the file named `name`, oldest first. */
export async function backupsDependingOn(ctx: RemoteContext, vmUuid: string, diskKey: string, name: string): Promise<DependentBackup[]> {
  const { folder, backups } = await readDiskFolderOf(ctx.layout, vmUuid, diskKey);
  return dependentBackups(backups, folder, name);
}

/**
 * Pure: of `backups`, those whose disk of `folder`'s key has the file `name` in its chain — also
 * when that file is missing (the backup's own file, or the parent its chain stops at).
 */
export function dependentBackups(backups: BackupMetadata[], folder: DiskFolder, name: string): DependentBackup[] {
  const { diskKey } = folder;
  const out: DependentBackup[] = [];
  for (const backup of backups) {
    const disk = backup.disks.find((d) => d.key === diskKey);
    if (!disk) continue;
    const file = folder.model.files.find((f) => `disks/${diskKey}/${f.name}` === disk.file);
    const line = file ? ancestry(folder.model, file) : [];
    if (disk.file === `disks/${diskKey}/${name}` || line.some((f) => f.name === name || f.parentName === name)) {
      out.push({ backupId: backup.backupId, timestamp: backup.timestamp });
    }
  }
  return out.sort((a, b) => a.timestamp.localeCompare(b.timestamp) || a.backupId.localeCompare(b.backupId));
}

export function damageMessage(site: DamageSite, dependents: DependentBackup[] | undefined): string {
  const where = site.block === undefined ? `file ${site.path}: ${site.reason}` : `file ${site.path} block ${site.block} ${site.reason}`;
  const list = dependents === undefined ? 'could not be listed' : dependents.map((d) => `${d.backupId} (${d.timestamp})`).join(', ') || 'none';
  return (
    `backup ${site.backupId} of VM ${site.vmUuid}, disk ${site.diskKey}: ${where}; the stored data is damaged. ` +
    `Backups that depend on this file: ${list}. Restore an earlier date that does not depend on it, and run verify ` +
    `on backup ${site.backupId} to record the damage; once verify has marked it, the next backup of this VM will be a full.`
  );
}

/** The error for damage at `site`, with the dependent backups looked up now. */
export async function dataDamageError(ctx: RemoteContext, site: DamageSite): Promise<StorageDataError> {
  let dependents: DependentBackup[] | undefined;
  try {
    dependents = await backupsDependingOn(ctx, site.vmUuid, site.diskKey, basename(site.path));
  } catch (error) {
    ctx.logger.warn({ err: error, path: site.path, reason: errorMessage(error) }, 'backups depending on a damaged file not listed');
  }
  return new StorageDataError(damageMessage(site, dependents));
}
