// ListBackups and Stat: what a remote holds, read from its metadata files (the commit points),
// and the capacity of its file system.
import { statfs } from 'node:fs/promises';
import { join } from 'node:path';
import type { BackupMetadata } from './backup-metadata.js';
import { UUID_PATTERN, validUuid } from './ids.js';
import { REMOTE_FORMAT_VERSION } from './remote-layout.js';
import type { RemoteContext } from './remote-context.js';
import { listFolder, readBackups, type Problem } from './vm-folder.js';

export interface DiskSummary {
  diskKey: string;
  /** Relative to the remote root. */
  path: string;
  fileSize: number;
  virtualSize: number;
  footerUuid: string;
  parentFooterUuid: string | undefined;
  chainPosition: number;
  digest: Buffer;
  /** The digest a restore of this backup's disk must have (§6); empty for backups committed before it was recorded. */
  chainDigest: Buffer;
}

export interface BackupSummary {
  backupId: string;
  vmUuid: string;
  timestampMs: number;
  metadataPath: string;
  disks: DiskSummary[];
}

export async function listVms(ctx: RemoteContext): Promise<string[]> {
  return (await listFolder(ctx.layout.vmsFolder)).filter((name) => UUID_PATTERN.test(name));
}

export function summarize(ctx: RemoteContext, m: BackupMetadata): BackupSummary {
  const vmFolder = ctx.layout.vmFolder(m.vmUuid);
  return {
    backupId: m.backupId,
    vmUuid: m.vmUuid,
    timestampMs: Date.parse(m.timestamp),
    metadataPath: ctx.layout.relative(ctx.layout.metadataPath(m.vmUuid, m.backupId)),
    disks: m.disks.map((d) => ({
      diskKey: d.key,
      path: ctx.layout.relative(join(vmFolder, d.file)),
      fileSize: d.fileSize,
      virtualSize: d.virtualSize,
      footerUuid: d.footerUuid,
      parentFooterUuid: d.parentFooterUuid ?? undefined,
      chainPosition: d.chainPosition,
      digest: hexDigest(d.digest),
      chainDigest: d.chainDigest === undefined ? Buffer.alloc(0) : hexDigest(d.chainDigest),
    })),
  };
}

function hexDigest(text: string): Buffer {
  return Buffer.from(text.slice('sha256:'.length), 'hex');
}

/** Committed backups of one VM (or all VMs when vmUuid is empty), oldest first per VM. */
export async function listBackups(ctx: RemoteContext, vmUuid: string, problems: Problem[] = []): Promise<BackupSummary[]> {
  const vms = vmUuid === '' ? await listVms(ctx) : [validUuid(vmUuid, 'VM uuid')];
  const out: BackupSummary[] = [];
  for (const vm of vms) {
    const backups = await readBackups(ctx.layout, vm, problems);
    backups.sort((a, b) => a.timestamp.localeCompare(b.timestamp) || a.backupId.localeCompare(b.backupId));
    out.push(...backups.map((m) => summarize(ctx, m)));
  }
  return out;
}

export interface RemoteStat {
  remoteId: string;
  totalBytes: number;
  freeBytes: number;
  backupCount: number;
  vmCount: number;
  formatVersion: number;
}

export async function statRemote(ctx: RemoteContext): Promise<RemoteStat> {
  const fs = await statfs(ctx.layout.root);
  const backups = await listBackups(ctx, '');
  return {
    remoteId: ctx.remoteId,
    totalBytes: fs.blocks * fs.bsize,
    freeBytes: fs.bavail * fs.bsize,
    backupCount: backups.length,
    vmCount: new Set(backups.map((b) => b.vmUuid)).size,
    formatVersion: REMOTE_FORMAT_VERSION,
  };
}
