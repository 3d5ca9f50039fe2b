// What the guests write during a lab "day": a deterministic plan (pure) of clustered rewrites —
// whole 2 MiB-aligned runs, so a delta is about the share written — and its execution through
// the lab pool's admin endpoint, which returns how many 2 MiB blocks each write touched.
// One write per disk per day, so the blocks changed on a disk are exactly what its write reports.
import type { LabAdminClient } from '../pool/index.js';

export interface PlannedWrite {
  /** Position of the disk in the VM's device order. */
  disk: number;
  percent: number;
  seed: number;
}

/** Day `day` (1-based) of VM number `vm` with `disks` disks: disk 0 every day, the others every other day. */
export function planGuestWrites(day: number, vm: number, disks: number, seed: number): PlannedWrite[] {
  const writes: PlannedWrite[] = [{ disk: 0, percent: 2 + ((day + vm) % 3) * 2, seed: seed * 1000 + day * 10 + vm }];
  for (let disk = 1; disk < disks; disk++) {
    if ((day + disk) % 2 === 0) writes.push({ disk, percent: 5, seed: seed * 1000 + day * 10 + vm + disk * 100 });
  }
  return writes;
}

export interface WriteDone extends PlannedWrite {
  vdi: string;
  blocks: number;
  bytes: number;
}

/** Applies the writes to the VM's disks (VDI uuids in device order). */
export async function applyGuestWrites(admin: LabAdminClient, vdis: string[], writes: PlannedWrite[]): Promise<WriteDone[]> {
  const done: WriteDone[] = [];
  for (const write of writes) {
    const vdi = vdis[write.disk];
    if (vdi === undefined) throw new Error(`the VM has no disk ${write.disk}`);
    const result = await admin.write({ vdi, pattern: 'clustered', percent: write.percent, seed: write.seed });
    done.push({ ...write, vdi, blocks: result.blocks, bytes: result.bytes });
  }
  return done;
}
