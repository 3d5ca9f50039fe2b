// The snapshot operations of a backup on the pool: read a VM's snapshots (with their disk VDIs),
// take one, tag it, mark it exported, destroy one. `VM.destroy` does not remove a snapshot's
// VDIs (XAPI keeps disks), so destroying a snapshot destroys its VDIs explicitly, and tolerates
// objects that are already gone (an admin, or an earlier attempt, removed them). A purged
// reference's `cbt_metadata` VDIs left without their snapshot VM are found and destroyed too
// (plan/plan-orphan-metadata.ts).
import type { HostXapi } from '../xapi/host-xapi.js';
import { XapiCallError } from '../xapi/xapi-call-error.js';
import { NULL_REF, type OtherConfig, type XapiRef, type XapiVbd, type XapiVdi, type XapiVm } from '../xapi/xapi-records.js';
import { planOrphanMetadata, type MetadataVdiSummary, type OrphanItem } from '../plan/plan-orphan-metadata.js';
import type { SnapshotSummary, SnapshotVdiSummary } from '../plan/snapshot-summary.js';
import { TAG } from '../plan/snapshot-tags.js';

export class PoolSnapshots {
  constructor(private readonly xapi: HostXapi) {}

  /** Every snapshot of `vm`, skipping any that vanish while being read. */
  async list(vm: XapiVm): Promise<SnapshotSummary[]> {
    const out: SnapshotSummary[] = [];
    for (const ref of vm.snapshots) {
      const summary = await this.read(ref).catch(ignoreGone);
      if (summary !== undefined) out.push(summary);
    }
    return out;
  }

  async read(ref: XapiRef): Promise<SnapshotSummary> {
    const record = await this.xapi.getRecord<XapiVm>('VM', ref);
    const vdis: SnapshotVdiSummary[] = [];
    for (const vbdRef of record.VBDs) {
      const vbd = await this.xapi.getRecord<XapiVbd>('VBD', vbdRef).catch(ignoreGone);
      if (vbd === undefined || vbd.type !== 'Disk' || vbd.VDI === NULL_REF) continue;
      const vdi = await this.xapi.getRecord<XapiVdi>('VDI', vbd.VDI).catch(ignoreGone);
      if (vdi === undefined) continue;
      vdis.push({ ref: vbd.VDI, uuid: vdi.uuid, diskKey: vdi.other_config[TAG.vdi] });
    }
    return {
      ref,
      uuid: record.uuid,
      nameLabel: record.name_label,
      snapshotTime: record.snapshot_time,
      otherConfig: record.other_config,
      vdis,
    };
  }

  /** `VM.snapshot`, leaving out the VDIs to skip; returns the snapshot VM's ref. */
  take(vmRef: XapiRef, name: string, ignoreVdis: readonly XapiRef[]): Promise<XapiRef> {
    return ignoreVdis.length === 0
      ? this.xapi.callAsync<XapiRef>('VM.snapshot', vmRef, name)
      : this.xapi.callAsync<XapiRef>('VM.snapshot', vmRef, name, ignoreVdis);
  }

  /** Sets keys of a VM's or VDI's other_config (remove first: add_to on a present key fails). */
  async setOtherConfig(type: 'VM' | 'VDI', ref: XapiRef, entries: OtherConfig): Promise<void> {
    for (const [key, value] of Object.entries(entries)) {
      await this.xapi.call(`${type}.remove_from_other_config`, ref, key);
      await this.xapi.call(`${type}.add_to_other_config`, ref, key, value);
    }
  }

  /** Destroys a snapshot VM and its disk VDIs; objects already gone are fine. */
  async destroy(snapshot: Pick<SnapshotSummary, 'ref' | 'vdis'>): Promise<void> {
    await this.xapi.call('VM.destroy', snapshot.ref).catch(ignoreGone);
    for (const vdi of snapshot.vdis) {
      await this.xapi.call('VDI.destroy', vdi.ref).catch(ignoreGone);
    }
  }

  /** The pool's snapshot VDIs of type `cbt_metadata` tagged for `policyId` (one `VDI.get_all_records`). */
  async metadataVdis(policyId: string): Promise<MetadataVdiSummary[]> {
    const records = await this.xapi.call<Record<XapiRef, XapiVdi>>('VDI.get_all_records');
    return Object.entries(records)
      .filter(([, vdi]) => vdi.type === 'cbt_metadata' && vdi.other_config?.[TAG.policy] === policyId)
      .map(([ref, vdi]) => ({
        ref,
        uuid: vdi.uuid,
        type: vdi.type,
        isSnapshot: vdi.is_a_snapshot,
        policyId: vdi.other_config[TAG.policy],
        diskKey: vdi.other_config[TAG.vdi],
        vbdCount: vdi.VBDs.length,
      }));
  }

  /** The uuids of a live VM's disk VDIs (the disk keys of its backups). */
  async diskKeysOf(vm: XapiVm): Promise<Set<string>> {
    const keys = new Set<string>();
    for (const vbdRef of vm.VBDs) {
      const vbd = await this.xapi.getRecord<XapiVbd>('VBD', vbdRef).catch(ignoreGone);
      if (vbd === undefined || vbd.type !== 'Disk' || vbd.VDI === NULL_REF) continue;
      const uuid = await this.xapi.call<string>('VDI.get_uuid', vbd.VDI).catch(ignoreGone);
      if (uuid !== undefined) keys.add(uuid);
    }
    return keys;
  }

  /**
   * The orphan `cbt_metadata` VDIs of `policyId` for the disks of `vm`: in none of `snapshots`
   * (the VM's, as listed), held by no VM, and not among `keepUuids` (bases still asked for).
   */
  async orphanMetadata(policyId: string, vm: XapiVm, snapshots: readonly SnapshotSummary[], keepUuids: ReadonlySet<string>): Promise<OrphanItem[]> {
    return planOrphanMetadata(await this.metadataVdis(policyId), snapshots, { policyId, diskKeys: await this.diskKeysOf(vm), keepUuids });
  }

  /** `VDI.destroy`; one already gone is fine. */
  async destroyVdi(ref: XapiRef): Promise<void> {
    await this.xapi.call('VDI.destroy', ref).catch(ignoreGone);
  }
}

/** Swallows "the object does not exist (any more)"; rethrows everything else. */
export function ignoreGone(error: unknown): undefined {
  if (error instanceof XapiCallError && (error.xapiCode === 'HANDLE_INVALID' || error.xapiCode === 'UUID_INVALID')) return undefined;
  throw error;
}
