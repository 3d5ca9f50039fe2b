// Reads the state of one VM's folder on a remote: its committed backups (metadata files) and,
// per disk key, the identity of every visible VHD. Unreadable files are collected, not thrown,
// so a scan can report them; callers decide with chain-model.ts.
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage } from '../../shared/errors.js';
import { listMetadataFiles, parseBackupMetadata, type BackupMetadata } from './backup-metadata.js';
import { readFile } from 'node:fs/promises';
import { readDiskIdentity, type DiskIdentity } from './disk-identity.js';
import { ID_PATTERN } from './ids.js';
import { backupIdOfDiskFile, type RemoteLayout } from './remote-layout.js';
import { modelFolder, neededNames, type FolderModel } from './chain-model.js';

export interface Problem {
  path: string;
  reason: string;
}

export interface DiskFolder {
  diskKey: string;
  folder: string;
  model: FolderModel<DiskIdentity>;
  /** Names of files committed backups list. */
  committed: Set<string>;
  /** `committed` plus their ancestors. */
  needed: Set<string>;
}

export interface VmFolder {
  vmUuid: string;
  /** Committed backups, by backup id ascending. */
  backups: BackupMetadata[];
  disks: Map<string, DiskFolder>;
  problems: Problem[];
}

export async function listFolder(folder: string): Promise<string[]> {
  try {
    return (await readdir(folder)).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
    throw error;
  }
}

export async function readBackups(layout: RemoteLayout, vmUuid: string, problems: Problem[]): Promise<BackupMetadata[]> {
  const folder = layout.backupsFolder(vmUuid);
  const out: BackupMetadata[] = [];
  for (const name of await listMetadataFiles(folder)) {
    const path = join(folder, name);
    try {
      const metadata = parseBackupMetadata(await readFile(path, 'utf8'), layout.relative(path));
      if (metadata.backupId !== name.slice(0, -5) || metadata.vmUuid !== vmUuid) {
        problems.push({ path: layout.relative(path), reason: 'metadata names another backup or VM than its path' });
      } else out.push(metadata);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      problems.push({ path: layout.relative(path), reason: errorMessage(error) });
    }
  }
  return out;
}

async function readDiskFolder(layout: RemoteLayout, vmUuid: string, diskKey: string, backups: BackupMetadata[], problems: Problem[]): Promise<DiskFolder> {
  const folder = layout.diskFolder(vmUuid, diskKey);
  const files: DiskIdentity[] = [];
  for (const name of await listFolder(folder)) {
    if (backupIdOfDiskFile(name) === undefined) continue;
    try {
      files.push(await readDiskIdentity(join(folder, name)));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      problems.push({ path: layout.relative(join(folder, name)), reason: errorMessage(error) });
    }
  }
  const model = modelFolder(files);
  const committed = new Set<string>();
  for (const backup of backups) {
    for (const disk of backup.disks) if (disk.key === diskKey) committed.add(disk.file.slice(`disks/${diskKey}/`.length));
  }
  return { diskKey, folder, model, committed, needed: neededNames(model, committed) };
}

export async function readVmFolder(layout: RemoteLayout, vmUuid: string): Promise<VmFolder> {
  const problems: Problem[] = [];
  const backups = await readBackups(layout, vmUuid, problems);
  const disks = new Map<string, DiskFolder>();
  for (const key of await listFolder(layout.disksFolder(vmUuid))) {
    if (!ID_PATTERN.test(key)) continue;
    if (!(await stat(join(layout.disksFolder(vmUuid), key))).isDirectory()) continue;
    disks.set(key, await readDiskFolder(layout, vmUuid, key, backups, problems));
  }
  return { vmUuid, backups, disks, problems };
}

/** Reads one disk folder only (PutDisk's parent check). */
export async function readDiskFolderOf(layout: RemoteLayout, vmUuid: string, diskKey: string): Promise<{ folder: DiskFolder; backups: BackupMetadata[] }> {
  const problems: Problem[] = [];
  const backups = await readBackups(layout, vmUuid, problems);
  return { folder: await readDiskFolder(layout, vmUuid, diskKey, backups, problems), backups };
}
