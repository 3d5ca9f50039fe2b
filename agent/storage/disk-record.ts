// Builds a disk's entry of the backup metadata (docs/remote-format.md §4) from the files on the
// remote: identity from the VHD, chain position and parent from the folder model, digest and
// block count from the `.sums` file. Used at commit and when a merge rewrites metadata (the chain
// digest is the caller's: computed at commit, kept as it was by merges).
import { DiskType } from '../../shared/vhd/index.js';
import type { DiskRecord } from './backup-metadata.js';
import { digestHex, type PieceRule } from '../../shared/grpc/disk-checksum.js';
import { ancestry } from './chain-model.js';
import type { DiskIdentity } from './disk-identity.js';
import { RemoteFormatError } from './errors.js';
import { sumsPathOf } from './remote-layout.js';
import { summarizeSumsFile } from './sums-file.js';
import type { DiskFolder } from './vm-folder.js';

export interface DiskSourceInput {
  vdiUuid: string | null;
  snapshotVdiUuid: string | null;
  /** "sha256:hex": computed at commit (chain-digest.ts), then carried unchanged through merges, with its rule. */
  chainDigest?: string;
  chainDigestRule?: PieceRule;
}

export async function buildDiskRecord(folder: DiskFolder, file: DiskIdentity, source: DiskSourceInput): Promise<DiskRecord> {
  const line = ancestry(folder.model, file);
  const root = line[line.length - 1]!;
  if (root.diskType !== DiskType.Dynamic) {
    throw new RemoteFormatError(`${file.path}: its chain does not reach a full disk (${root.name} has no valid parent)`);
  }
  const sums = await summarizeSumsFile(sumsPathOf(file.path));
  if (sums.blockSize !== file.blockSize) {
    throw new RemoteFormatError(`${sumsPathOf(file.path)}: block size ${sums.blockSize} differs from the VHD's ${file.blockSize}`);
  }
  const parent = folder.model.parent.get(file.name);
  const prefix = `disks/${folder.diskKey}/`;
  return {
    key: folder.diskKey,
    file: `${prefix}${file.name}`,
    vdiUuid: source.vdiUuid,
    snapshotVdiUuid: source.snapshotVdiUuid,
    virtualSize: file.virtualSize,
    blockSize: file.blockSize,
    fileSize: file.fileSize,
    blockCount: sums.count,
    footerUuid: file.footerUuid,
    parentFooterUuid: parent?.footerUuid ?? null,
    parentFile: parent ? `${prefix}${parent.name}` : null,
    chainPosition: line.length - 1,
    digest: digestHex(sums.digest),
    ...(source.chainDigest === undefined ? {} : { chainDigest: source.chainDigest }),
    ...(source.chainDigest === undefined || source.chainDigestRule === undefined ? {} : { chainDigestRule: source.chainDigestRule }),
  };
}
