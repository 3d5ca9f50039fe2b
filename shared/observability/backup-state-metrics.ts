// What an operator alerts on about the backups themselves, from the coordinator's catalogue at
// scrape time: each disk chain's length on each remote (merges keep it at the policy's
// retention; a growing one means merges are not running) and the newest committed backup of
// each VM on each remote, as a timestamp and as an age (the "backups are late" alert).
import { Gauge, type Registry } from 'prom-client';
import { METRIC } from './metric-names.js';

export interface ChainLengthFact {
  remote: string;
  vmUuid: string;
  diskKey: string;
  /** Backups the chain holds now. */
  length: number;
}

export interface LastGoodBackupFact {
  remote: string;
  vmUuid: string;
  vmName: string;
  takenAt: Date;
}

export interface BackupStateFacts {
  chains: readonly ChainLengthFact[];
  lastGood: readonly LastGoodBackupFact[];
}

export class BackupStateMetrics {
  readonly chainLength: Gauge<'remote' | 'vm' | 'disk'>;
  readonly lastGoodTimestamp: Gauge<'remote' | 'vm' | 'vm_name'>;
  readonly lastGoodAge: Gauge<'remote' | 'vm' | 'vm_name'>;

  constructor(registry: Registry) {
    const registers = [registry];
    const labelNames = ['remote', 'vm', 'vm_name'] as const;
    this.chainLength = new Gauge({ name: METRIC.chainLength, help: 'Backups a disk chain holds on a remote.', labelNames: ['remote', 'vm', 'disk'], registers });
    this.lastGoodTimestamp = new Gauge({ name: METRIC.lastGoodBackupTimestamp, help: 'When the newest committed backup of a VM on a remote was taken, Unix seconds.', labelNames, registers });
    this.lastGoodAge = new Gauge({ name: METRIC.lastGoodBackupAge, help: 'Age of the newest committed backup of a VM on a remote, seconds.', labelNames, registers });
  }

  /** Replaces every series with the facts (VMs and chains that are gone disappear). */
  update(facts: BackupStateFacts, now: Date): void {
    this.chainLength.reset();
    this.lastGoodTimestamp.reset();
    this.lastGoodAge.reset();
    for (const c of facts.chains) this.chainLength.set({ remote: c.remote, vm: c.vmUuid, disk: c.diskKey }, c.length);
    for (const b of facts.lastGood) {
      const labels = { remote: b.remote, vm: b.vmUuid, vm_name: b.vmName };
      this.lastGoodTimestamp.set(labels, b.takenAt.getTime() / 1000);
      this.lastGoodAge.set(labels, Math.max(0, (now.getTime() - b.takenAt.getTime()) / 1000));
    }
  }
}
