// What "restored byte for byte" is checked against: the SHA-256 of each of a VM's disks as the
// lab pool holds them (its admin digest reads the whole virtual size), in device order. Taken
// right before a backup runs — nothing writes during a run, so that is the content the backup's
// snapshot froze — and again on a restored VM, whose disks must match position by position.
import type { LabAdminClient } from '../pool/index.js';

export interface DiskDigestEntry {
  userdevice: string;
  vdi: string;
  virtualSize: number;
  sha256: string;
}

/** The digests of a VM's disks, ordered by device. */
export async function digestVm(admin: LabAdminClient, vmUuid: string): Promise<DiskDigestEntry[]> {
  const vm = (await admin.state()).vms.find((v) => v.uuid === vmUuid);
  if (vm === undefined) throw new Error(`the lab pool has no VM ${vmUuid}`);
  const disks = [...vm.disks].sort((a, b) => Number(a.userdevice) - Number(b.userdevice));
  const out: DiskDigestEntry[] = [];
  for (const disk of disks) {
    const digest = await admin.digest(disk.vdi);
    out.push({ userdevice: disk.userdevice, vdi: disk.vdi, virtualSize: disk.virtualSize, sha256: digest.sha256 });
  }
  return out;
}

export interface DigestComparison {
  ok: boolean;
  /** One verdict per disk: "disk 0: sha256 … equal" or what differs. */
  disks: { ok: boolean; text: string }[];
}

/** Compares a restored VM's disks with the expected ones, position by position. */
export function compareDigests(expected: DiskDigestEntry[], actual: DiskDigestEntry[]): DigestComparison {
  const disks: { ok: boolean; text: string }[] = [];
  let ok = expected.length === actual.length;
  if (!ok) disks.push({ ok, text: `${actual.length} disks restored, ${expected.length} expected` });
  expected.forEach((want, i) => {
    const got = actual[i];
    if (got === undefined) return;
    const same = got.sha256 === want.sha256 && got.virtualSize === want.virtualSize;
    ok &&= same;
    disks.push({
      ok: same,
      text: same
        ? `disk ${i}: sha256 ${want.sha256.slice(0, 16)}… equal`
        : `disk ${i}: sha256 ${got.sha256.slice(0, 16)}… (${got.virtualSize} bytes), expected ${want.sha256.slice(0, 16)}… (${want.virtualSize} bytes)`,
    });
  });
  return { ok, disks };
}
