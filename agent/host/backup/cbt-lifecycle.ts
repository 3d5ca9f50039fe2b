// CBT around a backup: switched on for the disks a backup covers before their snapshot (the
// snapshot inherits it, so the next delta can ask XAPI what changed since), and, after every
// remote committed, the new reference's data destroyed for the disks CBT and NBD served
// (`VDI.data_destroy` leaves a `cbt_metadata` VDI: the next delta's base, with no data on the SR).
// A disk that went through the VHD export keeps its data: without working CBT and NBD the next
// delta needs the VHD export, which needs the base's data — purging it would force a full.
// Neither step fails a backup: a disk without CBT is backed up through the VHD export, a
// reference not purged costs SR space until the next run; both leave a warning.
import type { Logger } from '../../../shared/logging/index.js';
import type { SourceDisk } from '../plan/select-disks.js';
import type { HostXapi } from '../xapi/host-xapi.js';
import type { DiskOutcome } from './backup-types.js';
import type { SnapshotDisk } from './backup-types.js';

export async function enableCbt(xapi: HostXapi, disks: readonly SourceDisk[], logger: Logger, warnings: string[]): Promise<void> {
  for (const disk of disks) {
    if (disk.vdi['cbt_enabled'] === true) continue;
    try {
      await xapi.call('VDI.enable_cbt', disk.vdiRef);
      logger.info({ disk: disk.diskKey }, 'CBT enabled on the disk');
    } catch (error) {
      const warning = `could not enable CBT on disk ${disk.diskKey}: ${(error as Error).message}; its deltas use the VHD export`;
      logger.warn({ disk: disk.diskKey, err: error }, 'CBT not enabled');
      warnings.push(warning);
    }
  }
}

export async function purgeSnapshotData(xapi: HostXapi, snapshotDisks: readonly SnapshotDisk[], outcomes: readonly DiskOutcome[], logger: Logger, warnings: string[]): Promise<void> {
  const viaCbt = new Set(outcomes.filter((disk) => disk.readMethod === 'cbt-nbd').map((disk) => disk.diskKey));
  for (const disk of snapshotDisks) {
    if (!viaCbt.has(disk.diskKey)) continue;
    try {
      await xapi.call('VDI.data_destroy', disk.snapshotVdiRef);
      logger.info({ disk: disk.diskKey, snapshotVdi: disk.snapshotVdiUuid }, 'reference data purged; its CBT metadata stays');
    } catch (error) {
      const warning = `could not purge the data of the reference ${disk.snapshotVdiUuid} (disk ${disk.diskKey}): ${(error as Error).message}; it stays on the SR until the next run`;
      logger.warn({ disk: disk.diskKey, err: error }, 'reference data not purged');
      warnings.push(warning);
    }
  }
}
