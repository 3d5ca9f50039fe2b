// The story's restore: a VM as it was on an older night (not the newest backup), found by date
// the way `deltachain restore --vm --at` finds it (the newest backup taken at or before the
// date), created as a new VM on another SR by the host agent from the remote's chain, and
// checked disk by disk against the lab pool's digests taken when that night's backup ran.
import { compareDigests, digestVm } from './disk-digests.js';
import { formatDuration } from './format-units.js';
import type { LabStack } from './lab-stack.js';
import { PoolXapi } from './pool-xapi.js';
import { restoreAndWait } from './run-and-wait.js';
import type { Check } from './story-checks.js';
import type { NightRecord, StoryVm } from './story-night.js';
import type { StoryReporter } from './story-reporter.js';

export interface RestoreRequestOptions {
  pool: string;
  remote: string;
  srName: string;
  vm: StoryVm;
  night: NightRecord;
}

export interface RestoredVm {
  uuid: string;
  name: string;
  backupId: string;
  atMs: number;
  /** The SR it was restored to. */
  srUuid: string;
}

export async function restoreOlderNight(stack: LabStack, reporter: StoryReporter, check: (c: Check) => void, o: RestoreRequestOptions): Promise<RestoredVm | undefined> {
  const backup = o.night.summary.backups.find((b) => b.vmUuid === o.vm.uuid);
  const taken = (await stack.control.listBackups({ vmUuid: o.vm.uuid, remote: o.remote, all: false })).backups.find((b) => b.id === backup?.backupId);
  if (backup === undefined || taken === undefined) {
    check({ ok: false, text: `${o.vm.name}: night ${o.night.night}'s backup is not in the catalogue any more` });
    return undefined;
  }
  const pool = stack.pools.get(o.pool)!;
  const xapi = await PoolXapi.connect(pool);
  const srUuid = await xapi.srUuid(o.srName).finally(() => xapi.close());
  const at = new Date(taken.takenAtMs).toISOString();
  const name = `${o.vm.name} (night ${o.night.night})`;
  reporter.command(`deltachain restore --vm ${o.vm.uuid} --at ${at} --pool ${o.pool} --sr ${srUuid} --name "${name}"`);
  const started = Date.now();
  const outcome = await restoreAndWait(stack.control, { what: { $case: 'point', value: { vmUuid: o.vm.uuid, atMs: taken.takenAtMs, remote: o.remote } }, pool: o.pool, srUuid, name, backupRemote: '' });
  if (outcome.task.state !== 'succeeded') {
    check({ ok: false, text: `restore of ${o.vm.name} as of night ${o.night.night}: ${outcome.task.state} ${outcome.task.errorCode}: ${outcome.task.errorMessage}` });
    return undefined;
  }
  check({ ok: outcome.backup.id === backup.backupId, text: `the date resolved to night ${o.night.night}'s backup ${outcome.backup.id}` });
  reporter.line(`new VM "${name}" ${outcome.newVmUuid} on SR "${o.srName}", restored in ${formatDuration(Date.now() - started)}`);
  const comparison = compareDigests(o.night.digests.get(o.vm.uuid)!, await digestVm(pool.admin, outcome.newVmUuid));
  for (const disk of comparison.disks) check({ ok: disk.ok, text: `${o.vm.name} ${disk.text} to the lab pool's digest on night ${o.night.night}` });
  return { uuid: outcome.newVmUuid, name, backupId: outcome.backup.id, atMs: taken.takenAtMs, srUuid };
}
