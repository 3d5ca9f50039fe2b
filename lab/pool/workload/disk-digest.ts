// SHA-256 of a VDI's whole content (virtual size bytes, zeros where nothing was written): what a
// restore is compared against. Streams the disk through a point-in-time reader.
import { createHash } from 'node:crypto';
import type { LabState } from '../state/lab-state.js';
import { assertHasData } from '../model/vdi-operations.js';

export interface DiskDigest {
  vdi: string;
  virtualSize: number;
  sha256: string;
}

export async function diskDigest(state: LabState, vdiRef: string): Promise<DiskDigest> {
  const vdi = state.records.get('VDI', vdiRef);
  assertHasData(vdi, vdiRef);
  const reader = state.disks.openReader(vdi.uuid);
  try {
    const hash = createHash('sha256');
    // One reused block buffer: each chunk is hashed before the next is read.
    for await (const chunk of reader.readRange(0, reader.virtualSize, Buffer.allocUnsafe(reader.blockSize))) hash.update(chunk);
    return { vdi: vdi.uuid, virtualSize: reader.virtualSize, sha256: hash.digest('hex') };
  } finally {
    reader.close();
  }
}
