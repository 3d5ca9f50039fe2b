// The lab pool's own metrics, read from its records at scrape time: VMs and snapshots, and the
// virtual size of their disks, and the snapshot data each SR holds — enough to watch a demo or a
// soak test take and drop snapshots.
import { Gauge } from 'prom-client';
import { METRIC, type ProcessMetrics } from '../../shared/observability/index.js';
import { labSummary } from './http/lab-summary.js';
import type { LabState } from './state/lab-state.js';

export function registerLabMetrics(metrics: ProcessMetrics, state: LabState): void {
  const registers = [metrics.registry];
  const vms = new Gauge({ name: METRIC.labVms, help: 'VMs of the lab pool by kind (vm, snapshot).', labelNames: ['kind'], registers });
  const bytes = new Gauge({ name: METRIC.labDiskBytes, help: 'Virtual size of the lab pool\'s disks by kind (vm, snapshot), bytes.', labelNames: ['kind'], registers });
  const snapshotData = new Gauge({ name: METRIC.labSnapshotDataBytes, help: 'Bytes held by the lab pool\'s snapshot VDIs that still have data (not cbt_metadata), by SR uuid.', labelNames: ['sr'], registers });
  metrics.addRefresher('lab-state', () => {
    const summary = labSummary(state);
    snapshotData.reset();
    for (const sr of summary.srs) snapshotData.set({ sr: sr.uuid }, sr.snapshotDataBytes);
    const counts = { vm: 0, snapshot: 0 };
    const sizes = { vm: 0, snapshot: 0 };
    for (const vm of summary.vms) {
      const kind = vm.isSnapshot ? 'snapshot' : 'vm';
      counts[kind] += 1;
      for (const disk of vm.disks) sizes[kind] += disk.virtualSize;
    }
    for (const kind of ['vm', 'snapshot'] as const) {
      vms.set({ kind }, counts[kind]);
      bytes.set({ kind }, sizes[kind]);
    }
  });
}
