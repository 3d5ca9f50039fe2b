// The `.sums` tables of every file of an opened chain, checked before any block is read
// (docs/remote-format.md §6, "Checked reads"): each table's header and trailing hash, its block
// size, and its disk digest against the digest the metadata listing the file recorded (the
// metadata `<id>.json` of the file `<id>.vhd`; a file no committed backup lists as its own disk
// any more — its backup was deleted or retired by a merge — is checked by its trailing hash
// only). The tables stay open, so block checks later read the tables that were checked here
// even if a merge renames other tables over their paths meanwhile.
import { basename } from 'node:path';
import { DiskDigest, digestHex } from '../../shared/grpc/disk-checksum.js';
import { SumsReader } from '../../shared/sums/index.js';
import { errorMessage } from '../../shared/errors.js';
import type { ChainReader } from '../../shared/vhd/index.js';
import { readBackupMetadata } from './backup-metadata.js';
import { backupIdOfDiskFile, sumsPathOf } from './remote-layout.js';
import type { RemoteContext } from './remote-context.js';

export interface ChainSumsProblem {
  /** Position in the chain (0 = newest). */
  layer: number;
  /** The VHD, relative to the remote root. */
  path: string;
  reason: string;
}

export interface ChainSums {
  /** One table per chain file, in chain order; undefined where the table could not be opened. */
  readers: (SumsReader | undefined)[];
  problems: ChainSumsProblem[];
  close(): Promise<void>;
}

export interface ChainSumsOptions {
  vmUuid: string;
  diskKey: string;
  /** Layers whose digest is not compared with metadata (the head of a backup being committed). */
  uncommittedLayers?: number[];
}

export async function openChainSums(ctx: RemoteContext, chain: ChainReader, options: ChainSumsOptions): Promise<ChainSums> {
  const readers: (SumsReader | undefined)[] = [];
  const problems: ChainSumsProblem[] = [];
  const close = async (): Promise<void> => void (await Promise.all(readers.map((r) => r?.close())));
  try {
    for (let layer = 0; layer < chain.disks.length; layer++) {
      const disk = chain.disks[layer]!;
      const path = ctx.layout.relative(disk.path);
      const problem = (reason: string): void => void problems.push({ layer, path, reason });
      const reader = await SumsReader.open(sumsPathOf(disk.path), `${path}.sums`).catch((error: unknown) => {
        problem(`its checksum file cannot be read: ${errorMessage(error)}`);
        return undefined;
      });
      readers.push(reader);
      if (!reader) continue;
      if (reader.blockSize !== disk.blockSize) {
        problem(`its checksum file is for ${reader.blockSize}-byte blocks, the disk has ${disk.blockSize}-byte blocks`);
        continue;
      }
      const digest = await digestOf(reader).catch((error: unknown) => void problem(`its checksum file is damaged: ${errorMessage(error)}`));
      if (!digest || options.uncommittedLayers?.includes(layer)) continue;
      const recorded = await recordedDigest(ctx, options.vmUuid, options.diskKey, basename(disk.path));
      if (recorded !== undefined && recorded !== digestHex(digest)) {
        problem(`the digest of its checksum file (${digestHex(digest)}) differs from the one its backup's metadata recorded (${recorded})`);
      }
    }
  } catch (error) {
    await close();
    throw error;
  }
  return { readers, problems, close };
}

async function digestOf(reader: SumsReader): Promise<Buffer> {
  const digest = new DiskDigest();
  for await (const entry of reader.entries()) digest.add(entry.index, entry.checksum);
  return digest.digest();
}

/** The digest the metadata `<id>.json` records for the file `<id>.vhd`, when it lists it. */
async function recordedDigest(ctx: RemoteContext, vmUuid: string, diskKey: string, name: string): Promise<string | undefined> {
  const backupId = backupIdOfDiskFile(name);
  if (backupId === undefined) return undefined;
  const metadata = await readBackupMetadata(ctx.layout.metadataPath(vmUuid, backupId)).catch(() => undefined);
  return metadata?.disks.find((d) => d.key === diskKey && d.file === `disks/${diskKey}/${name}`)?.digest;
}
