// Keeps XAPI's reverse relations consistent (VM.VBDs ↔ VBD.VM, VDI.VBDs, SR.VDIs,
// network.VIFs, VM.snapshots ↔ snapshot_of, VDI.snapshots): every create links both sides, every
// destroy unlinks both. A side that no longer exists (a dangling snapshot_of) is skipped.
import type { RecordStore } from '../records/record-store.js';
import { NULL_REF } from '../records/record-store.js';

export function linkRef(records: RecordStore, cls: string, ref: string, field: string, value: string): void {
  if (ref === NULL_REF || !records.has(cls, ref)) return;
  records.update(cls, ref, (record) => {
    const list = record[field] as string[];
    if (!list.includes(value)) record[field] = [...list, value];
  });
}

export function unlinkRef(records: RecordStore, cls: string, ref: string, field: string, value: string): void {
  if (ref === NULL_REF || !records.has(cls, ref)) return;
  records.update(cls, ref, (record) => {
    record[field] = (record[field] as string[]).filter((r) => r !== value);
  });
}
