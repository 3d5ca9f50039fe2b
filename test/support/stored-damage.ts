// Tests of damaged backups: a backup disk's chain digest as the storage agent computes it for
// GetDisk BLOCKS (its trailer: DiskDigest over every allocated block with a full bitmap and the
// chain's data — the chain digest's definition), and one byte flipped in a stored VHD where a
// restore must see it: inside a sector the file's bitmap marks, in a block that no newer file of
// the chain overrides at that sector.
import { open } from 'node:fs/promises';
import { ChannelCredentials } from '@grpc/grpc-js';
import { GetDiskFormat, StorageClient } from '../../shared/grpc/storage-client.js';
import { SECTOR_SIZE, isSectorMarked } from '../../shared/vhd/format/index.js';
import { VhdFile } from '../../shared/vhd/vhd-file.js';

/** GetDisk BLOCKS's trailer digest of a backup's disk (32 bytes); `access`: a host certificate and read grant (default: plaintext, no grant). */
export async function chainDigestOverGrpc(address: string, vmUuid: string, backupId: string, diskKey: string, access?: { credentials: ChannelCredentials; grant: Uint8Array }): Promise<Buffer> {
  const client = new StorageClient(address, access?.credentials ?? ChannelCredentials.createInsecure());
  try {
    for await (const part of client.getDiskParts(vmUuid, backupId, diskKey, GetDiskFormat.GET_DISK_FORMAT_BLOCKS, { grant: access?.grant })) {
      if (part.$case === 'trailer') return Buffer.from(part.value.digest);
    }
    throw new Error(`GetDisk of ${backupId}/${diskKey} ended without a trailer`);
  } finally {
    client.close();
  }
}

export interface FlippedByte {
  path: string;
  /** The block and byte offset in the file that were changed. */
  block: number;
  offset: number;
}

/**
 * Flips one byte of `path` in a sector its bitmap marks, in a block none of `newer` (files of the
 * same chain written later) marks at that sector; `pick` chooses among the candidate blocks.
 */
export async function flipStoredByte(path: string, newer: string[] = [], pick = 0): Promise<FlippedByte> {
  const file = await VhdFile.open(path);
  const others = await Promise.all(newer.map((p) => VhdFile.open(p)));
  try {
    const candidates: { block: number; offset: number }[] = [];
    for (const index of file.allocatedBlocks()) {
      const own = (await file.readBlock(index))!;
      const overrides = await Promise.all(others.map(async (other) => (other.hasBlock(index) ? (await other.readBlock(index))!.bitmap : undefined)));
      const sector = [...Array(file.blockSize / SECTOR_SIZE).keys()].find((s) => isSectorMarked(own.bitmap, s) && overrides.every((b) => b === undefined || !isSectorMarked(b, s)));
      if (sector !== undefined) candidates.push({ block: index, offset: file.blockOffset(index)! + file.bitmapSize + sector * SECTOR_SIZE + 100 });
    }
    const chosen = candidates[pick % Math.max(1, candidates.length)];
    if (chosen === undefined) throw new Error(`${path}: no block whose data a restore reads from this file`);
    const handle = await open(path, 'r+');
    try {
      const byte = Buffer.alloc(1);
      await handle.read(byte, 0, 1, chosen.offset);
      byte[0]! ^= 0x40;
      await handle.write(byte, 0, 1, chosen.offset);
    } finally {
      await handle.close();
    }
    return { path, ...chosen };
  } finally {
    await file.close();
    for (const other of others) await other.close();
  }
}
