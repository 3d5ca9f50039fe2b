// Which disks of a VM a backup exports. Disk VBDs with a VDI are backed up; a VDI marked to be
// skipped (`other_config["deltachain:skip"] = "true"`, or a name starting with `[NOBAK]` as Xen
// Orchestra users know it) is left out of the snapshot itself (`VM.snapshot`'s ignore_vdis).
// CD drives are never disks. The disk key on remotes is the live VDI's uuid: stable across
// snapshots, so every backup of that disk lands in the same chain.
import { NULL_REF, type XapiRef, type XapiVbd, type XapiVdi } from '../xapi/xapi-records.js';
import { NOBAK_PREFIX, SKIP_TAG } from './snapshot-tags.js';

export interface SourceDisk {
  diskKey: string;
  vbdRef: XapiRef;
  vdiRef: XapiRef;
  vbd: XapiVbd;
  vdi: XapiVdi;
}

export interface DiskSelection {
  disks: SourceDisk[];
  skipped: Array<{ diskKey: string; vdiRef: XapiRef; reason: string }>;
}

export function selectDisks(vbds: ReadonlyMap<XapiRef, XapiVbd>, vdis: ReadonlyMap<XapiRef, XapiVdi>): DiskSelection {
  const selection: DiskSelection = { disks: [], skipped: [] };
  for (const [vbdRef, vbd] of vbds) {
    if (vbd.type !== 'Disk' || vbd.VDI === NULL_REF || vbd.empty) continue;
    const vdi = vdis.get(vbd.VDI);
    if (vdi === undefined) continue;
    const reason = skipReason(vdi);
    if (reason !== undefined) selection.skipped.push({ diskKey: vdi.uuid, vdiRef: vbd.VDI, reason });
    else selection.disks.push({ diskKey: vdi.uuid, vbdRef, vdiRef: vbd.VDI, vbd, vdi });
  }
  const byDevice = (a: { vbd: XapiVbd }, b: { vbd: XapiVbd }) => Number(a.vbd.userdevice) - Number(b.vbd.userdevice);
  selection.disks.sort(byDevice);
  return selection;
}

function skipReason(vdi: XapiVdi): string | undefined {
  if (vdi.other_config[SKIP_TAG] === 'true') return `other_config ${SKIP_TAG}=true`;
  if (vdi.name_label.startsWith(NOBAK_PREFIX)) return `name starts with ${NOBAK_PREFIX}`;
  return undefined;
}
