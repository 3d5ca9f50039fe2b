// Restores one backup as a new VM on this pool (one task). The VM is rebuilt from the records the
// backup stored — VM.create with the recorded configuration (start blocked), BIOS strings, one new
// VDI per backed-up disk on the chosen SR with its VBD, CD drives (empty), VIFs on the matching
// networks — then each disk is imported from the remote as one VHD stream (its whole chain folded
// in), several at once up to the limit, each checked against the chain digest the catalogue
// recorded for it before its import may complete (import-disk.ts). Only then is `start`
// unblocked. Nothing of the source VM or SR is needed: restoring to another pool, or after both
// are gone, is the same path. On failure everything created is destroyed — the VM and every VDI,
// including disks whose import had already completed.
import { DeltachainError } from '../../../shared/errors.js';
import type { Logger } from '../../../shared/logging/index.js';
import type { BackupRecords } from '../metadata/backup-records.js';
import type { StoredBackup } from '../metadata/parse-stored-backup.js';
import { ignoreGone } from '../backup/pool-snapshots.js';
import { TransferProgress, type ProgressListener } from '../backup/transfer-progress.js';
import { mapWithLimit } from '../concurrency/semaphore.js';
import { TAG } from '../plan/snapshot-tags.js';
import type { HostXapi } from '../xapi/host-xapi.js';
import { XapiCallError } from '../xapi/xapi-call-error.js';
import { NULL_REF, type XapiNetwork, type XapiPif, type XapiRef, type XapiVm } from '../xapi/xapi-records.js';
import { importDisk } from './import-disk.js';
import { chooseNetwork, type TargetNetwork } from './map-networks.js';
import type { RestoreOutcome, RestoreRequest } from './restore-types.js';
import { filterBootConfig } from './boot-config-filter.js';
import { IMPORT_BLOCK_REASON, RESTORE_TAG, blockedOperationsAfterImport, defaultRestoredName, vmCreateRecord } from './vm-create-record.js';

export interface RestoreContext {
  xapi: HostXapi;
  disksPerVm: number;
  logger: Logger;
  onProgress?: ProgressListener;
  progressIntervalMs?: number;
}

interface NewDisk {
  diskKey: string;
  vdiRef: XapiRef;
  vdiUuid: string;
}

export class SrNotFoundError extends DeltachainError {
  override name = 'SrNotFoundError';
  constructor(srUuid: string, cause: unknown) {
    super('SR_NOT_FOUND', `SR ${srUuid} does not exist on this pool; choose an SR of the target pool`, { cause });
  }
}

export function restoreVm(context: RestoreContext, request: RestoreRequest): Promise<RestoreOutcome> {
  return new VmRestore(context, request).run();
}

class VmRestore {
  private readonly progress: TransferProgress;
  private readonly startedAt = Date.now();
  private readonly warnings: string[] = [];
  private readonly logger: Logger;
  private vmRef: XapiRef | undefined;
  private readonly vdiRefs: XapiRef[] = [];

  constructor(
    private readonly context: RestoreContext,
    private readonly request: RestoreRequest,
  ) {
    this.progress = new TransferProgress(context.onProgress, context.progressIntervalMs ?? 1000);
    this.logger = context.logger.child({ taskId: request.taskId, vm: request.vmUuid, backup: request.backupId });
  }

  async run(): Promise<RestoreOutcome> {
    const previous = await this.previousDelivery();
    if (previous !== undefined) return previous;
    const backup = await this.request.source.getBackup(this.request.vmUuid, this.request.backupId);
    const srRef = await this.findSr();
    this.progress.enter('create');
    try {
      const { vm: recorded, dropped } = filterBootConfig(backup.records.vm, this.request.keepBootConfig === true);
      if (dropped.length > 0) this.logger.info({ dropped }, 'boot-path and passthrough fields of the stored record dropped (restore --keep-boot-config keeps them)');
      const name = this.request.nameLabel ?? defaultRestoredName(recorded, backup.timestamp);
      this.vmRef = await this.context.xapi.call<XapiRef>(
        'VM.create',
        vmCreateRecord(recorded, { nameLabel: name, backupId: backup.backupId, remoteId: this.request.source.remoteId, taskId: this.request.taskId }),
      );
      await this.setBiosStrings(recorded);
      const disks = await this.createDisks(backup, srRef);
      const networks = await this.createVifs(backup.records);
      this.progress.enter('import');
      this.warnUnchecked(disks);
      const restored = await mapWithLimit(disks, this.context.disksPerVm, (disk) =>
        importDisk(this.context.xapi, this.request.source, { vmUuid: this.request.vmUuid, backupId: backup.backupId, ...disk, expectedDigest: this.request.expectedChainDigests?.get(disk.diskKey) }, this.progress),
      );
      this.progress.enter('finish');
      const newVmUuid = await this.context.xapi.call<string>('VM.get_uuid', this.vmRef);
      const outcome: RestoreOutcome = {
        taskId: this.request.taskId,
        vmUuid: this.request.vmUuid,
        backupId: backup.backupId,
        newVmUuid,
        newVmName: name,
        disks: restored,
        networks,
        bytesReceived: restored.reduce((sum, d) => sum + d.bytes, 0),
        durationMs: Date.now() - this.startedAt,
        warnings: this.warnings,
        droppedFields: dropped,
        redelivered: false,
      };
      // The report first, then `start` unblocked: a VM that can start is a complete restore.
      await this.context.xapi.call('VM.add_to_other_config', this.vmRef, RESTORE_TAG.result, JSON.stringify(outcome));
      await this.context.xapi.call('VM.set_blocked_operations', this.vmRef, blockedOperationsAfterImport(recorded));
      this.logger.info({ newVm: newVmUuid, disks: restored.length }, 'VM restored');
      return outcome;
    } catch (error) {
      await this.undo();
      throw error;
    }
  }

  /** A VM this task created earlier: complete → its report; incomplete → destroyed, redone. */
  private async previousDelivery(): Promise<RestoreOutcome | undefined> {
    const { xapi } = this.context;
    const all = await xapi.call<Record<XapiRef, XapiVm>>('VM.get_all_records');
    for (const [ref, vm] of Object.entries(all)) {
      if (vm.is_a_snapshot || vm.other_config?.[RESTORE_TAG.task] !== this.request.taskId) continue;
      const stored = vm.other_config[RESTORE_TAG.result];
      if (stored !== undefined && vm.blocked_operations?.start !== IMPORT_BLOCK_REASON) {
        this.logger.info({ newVm: vm.uuid }, 'restore already complete (earlier delivery)');
        return { ...(JSON.parse(stored) as RestoreOutcome), redelivered: true };
      }
      this.logger.info({ newVm: vm.uuid }, 'destroying the incomplete VM of an earlier delivery');
      this.vmRef = ref;
      for (const vbdRef of vm.VBDs) {
        const vdi = await xapi.call<XapiRef>('VBD.get_VDI', vbdRef).catch(ignoreGone);
        const type = await xapi.call<string>('VBD.get_type', vbdRef).catch(ignoreGone);
        if (vdi !== undefined && vdi !== NULL_REF && type === 'Disk') this.vdiRefs.push(vdi);
      }
      await this.undo();
      this.vmRef = undefined;
      this.vdiRefs.length = 0;
    }
    return undefined;
  }

  /** Disks the catalogue has no chain digest for (backups recorded before it kept them). */
  private warnUnchecked(disks: NewDisk[]): void {
    const unchecked = disks.filter((d) => this.request.expectedChainDigests?.get(d.diskKey) === undefined).map((d) => d.diskKey);
    if (unchecked.length === 0) return;
    const warning = `disk${unchecked.length === 1 ? '' : 's'} ${unchecked.join(', ')}: no chain digest recorded in the catalogue for backup ${this.request.backupId} (recorded before digests were kept), so the restored data was checked by the storage agent only`;
    this.warnings.push(warning);
    this.logger.warn({ disks: unchecked }, 'restoring disks without an expected chain digest');
  }

  private async findSr(): Promise<XapiRef> {
    try {
      return await this.context.xapi.call<XapiRef>('SR.get_by_uuid', this.request.srUuid);
    } catch (error) {
      if (error instanceof XapiCallError && error.xapiCode === 'UUID_INVALID') throw new SrNotFoundError(this.request.srUuid, error);
      throw error;
    }
  }

  private async setBiosStrings(recorded: XapiVm): Promise<void> {
    const strings = recorded.bios_strings ?? {};
    if (Object.keys(strings).length > 0) await this.context.xapi.call('VM.set_bios_strings', this.vmRef, strings);
  }

  private async createDisks(backup: StoredBackup, srRef: XapiRef): Promise<NewDisk[]> {
    const { xapi } = this.context;
    const sizes = new Map(backup.disks.map((d) => [d.key, d.virtualSize]));
    const vdiByKey = new Map(backup.records.vdis.map((vdi) => [vdi.$diskKey, vdi]));
    const out: NewDisk[] = [];
    const vbds = [...backup.records.vbds].sort((a, b) => Number(a.userdevice) - Number(b.userdevice));
    for (const vbd of vbds) {
      const qos = { qos_algorithm_type: vbd.qos_algorithm_type ?? '', qos_algorithm_params: vbd.qos_algorithm_params ?? {} };
      if (vbd.type === 'CD') {
        await xapi.call('VBD.create', { VM: this.vmRef, VDI: NULL_REF, userdevice: vbd.userdevice, bootable: vbd.bootable, mode: 'RO', type: 'CD', empty: true, other_config: {}, ...qos });
        continue;
      }
      const recordedVdi = vbd.$diskKey === undefined ? undefined : vdiByKey.get(vbd.$diskKey);
      const virtualSize = vbd.$diskKey === undefined ? undefined : sizes.get(vbd.$diskKey);
      if (recordedVdi === undefined || virtualSize === undefined) continue;
      const vdiRef = await xapi.call<XapiRef>('VDI.create', {
        name_label: recordedVdi.name_label,
        name_description: recordedVdi.name_description,
        SR: srRef,
        virtual_size: virtualSize,
        type: 'user',
        sharable: recordedVdi.sharable,
        read_only: false,
        other_config: withoutOurTags(recordedVdi.other_config),
        xenstore_data: {},
        sm_config: {},
        tags: [],
      });
      this.vdiRefs.push(vdiRef);
      await xapi.call('VBD.create', { VM: this.vmRef, VDI: vdiRef, userdevice: vbd.userdevice, bootable: vbd.bootable, mode: vbd.mode, type: 'Disk', empty: false, other_config: vbd.other_config ?? {}, ...qos });
      out.push({ diskKey: vbd.$diskKey!, vdiRef, vdiUuid: await xapi.call<string>('VDI.get_uuid', vdiRef) });
    }
    return out;
  }

  private async createVifs(records: BackupRecords): Promise<RestoreOutcome['networks']> {
    const targets = await this.targetNetworks();
    const out: RestoreOutcome['networks'] = [];
    for (const vif of records.vifs) {
      const choice = chooseNetwork(vif.$network, targets);
      if (choice.network === undefined) {
        const warning = `VIF ${vif.device} left out: no network of this pool matches ${vif.$network?.name_label ?? 'its network'} (uuid ${vif.$network?.uuid ?? '?'}, VLAN ${vif.$network?.VLAN ?? '?'})`;
        this.warnings.push(warning);
        out.push({ device: vif.device, network: undefined, how: 'none' });
        continue;
      }
      await this.context.xapi.call('VIF.create', {
        device: vif.device,
        network: choice.network.ref,
        VM: this.vmRef,
        MAC: '',
        MTU: vif.MTU,
        other_config: vif.other_config ?? {},
        qos_algorithm_type: vif.qos_algorithm_type ?? '',
        qos_algorithm_params: vif.qos_algorithm_params ?? {},
      });
      out.push({ device: vif.device, network: choice.network.uuid, how: choice.how });
    }
    return out;
  }

  private async targetNetworks(): Promise<TargetNetwork[]> {
    const all = await this.context.xapi.call<Record<XapiRef, XapiNetwork>>('network.get_all_records');
    const out: TargetNetwork[] = [];
    for (const [ref, network] of Object.entries(all)) {
      let vlan = -1;
      for (const pifRef of network.PIFs ?? []) {
        const pif = await this.context.xapi.getRecord<XapiPif>('PIF', pifRef).catch(() => undefined);
        if (pif !== undefined) {
          vlan = Number(pif.VLAN);
          break;
        }
      }
      out.push({ ref, uuid: network.uuid, name_label: network.name_label, VLAN: vlan });
    }
    return out;
  }

  private async undo(): Promise<void> {
    const { xapi } = this.context;
    try {
      if (this.vmRef !== undefined) await xapi.call('VM.destroy', this.vmRef).catch(ignoreGone);
      for (const ref of this.vdiRefs) await xapi.call('VDI.destroy', ref).catch(ignoreGone);
      this.logger.info({}, 'restore failed; the VM and disks it created are destroyed');
    } catch (error) {
      this.logger.warn({ err: error }, 'restore failed and its VM or disks could not all be destroyed');
    }
  }
}

function withoutOurTags(otherConfig: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(otherConfig ?? {}).filter(([key]) => !Object.values(TAG).includes(key as never)));
}
