// Where things live on a remote (docs/remote-format.md §2-3). Every path is built here, only by
// joining ids that passed ids.ts under the remote root; nothing from the wire is used as a path.
import { mkdir, readFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { RemoteFormatError } from './errors.js';
import { validBackupId, validDiskKey, validUuid } from './ids.js';
import { writeFileAtomic } from '../../shared/files/atomic-write.js';

export const REMOTE_FORMAT_VERSION = 6;
export const MARKER_NAME = 'deltachain-remote.json';
export const VHD_SUFFIX = '.vhd';
export const SUMS_SUFFIX = '.vhd.sums';
export const MERGED_SUMS_SUFFIX = '.vhd.sums.merged';

export class RemoteLayout {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  get vmsFolder(): string {
    return join(this.root, 'vms');
  }

  vmFolder(vmUuid: string): string {
    return join(this.vmsFolder, validUuid(vmUuid, 'VM uuid'));
  }

  backupsFolder(vmUuid: string): string {
    return join(this.vmFolder(vmUuid), 'backups');
  }

  metadataPath(vmUuid: string, backupId: string): string {
    return join(this.backupsFolder(vmUuid), `${validBackupId(backupId)}.json`);
  }

  disksFolder(vmUuid: string): string {
    return join(this.vmFolder(vmUuid), 'disks');
  }

  diskFolder(vmUuid: string, diskKey: string): string {
    return join(this.disksFolder(vmUuid), validDiskKey(diskKey));
  }

  diskPath(vmUuid: string, diskKey: string, backupId: string): string {
    return join(this.diskFolder(vmUuid, diskKey), diskFileName(backupId));
  }

  /** Path relative to the remote root, with '/' separators (for messages and the API). */
  relative(path: string): string {
    return relative(this.root, path).split('\\').join('/');
  }

  /**
   * Creates the root and its marker when missing; refuses a remote of a newer format. A remote of
   * an older format (everything it holds stays readable) is marked with the current version
   * before anything is written, so that older agents refuse it rather than meet files they do
   * not know (docs/remote-format.md §12).
   */
  async ensure(now: Date = new Date()): Promise<void> {
    await mkdir(this.vmsFolder, { recursive: true });
    const marker = join(this.root, MARKER_NAME);
    let text: string | undefined;
    try {
      text = await readFile(marker, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    if (text === undefined) {
      const body = { format: 'deltachain-remote', version: REMOTE_FORMAT_VERSION, createdAt: now.toISOString() };
      await writeFileAtomic(marker, `${JSON.stringify(body, null, 2)}\n`);
      return;
    }
    let body: { version?: unknown };
    try {
      body = JSON.parse(text) as { version?: unknown };
    } catch (cause) {
      throw new RemoteFormatError(`${marker} is not JSON; is ${this.root} a Deltachain remote?`, { cause });
    }
    const { version } = body;
    if (typeof version !== 'number' || version > REMOTE_FORMAT_VERSION) {
      throw new RemoteFormatError(`${marker}: format version ${String(version)} is newer than ${REMOTE_FORMAT_VERSION}; upgrade Deltachain`);
    }
    if (version < REMOTE_FORMAT_VERSION) await writeFileAtomic(marker, `${JSON.stringify({ ...body, version: REMOTE_FORMAT_VERSION }, null, 2)}\n`);
  }
}

export function diskFileName(backupId: string): string {
  return `${validBackupId(backupId)}${VHD_SUFFIX}`;
}

export function sumsPathOf(vhdPath: string): string {
  return `${vhdPath}.sums`;
}

export function mergedSumsPathOf(vhdPath: string): string {
  return join(dirname(vhdPath), `.${basename(vhdPath)}.sums.merged`);
}

/** The backup id a disk file name carries, or undefined when the name is not `<id>.vhd`. */
export function backupIdOfDiskFile(name: string): string | undefined {
  if (!name.endsWith(VHD_SUFFIX)) return undefined;
  const id = name.slice(0, -VHD_SUFFIX.length);
  try {
    return validBackupId(id);
  } catch {
    return undefined;
  }
}

export function isTemporaryName(name: string): boolean {
  return name.startsWith('.') && name.endsWith('.tmp');
}
