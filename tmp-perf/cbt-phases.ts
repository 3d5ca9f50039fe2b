import { randomUUID } from 'node:crypto';
import { backupVm } from '../agent/host/backup/backup-vm.js';
import { startHostLab, SMALL_FLEET } from '../test/support/host-lab.js';
import { startHostRemote } from '../test/support/host-remote.js';
const GiB = 1024 ** 3;
const env = await startHostLab({ fleet: { networks: [{ ...SMALL_FLEET.networks[0]!, purpose: ['nbd'] }], vms: [{ name: 'big', disks: [{ name: 'big root', size: GiB, fill: 100 }] }] } as never });
const remote = await startHostRemote();
const vmUuid = await env.vmUuid('big');
const [disk] = await env.diskUuids(vmUuid);
const policyId = randomUUID();
let n = 0; let last: any;
async function backup(full: boolean) {
  n++; const t = Date.now(); let prev = t;
  last = await backupVm({ xapi: env.xapi, disksPerVm: 2, logger: env.logger, progressIntervalMs: 0, changedBlocks: 'cbt', nbd: { connections: 2, maxInFlightBytes: 32 * 1024 * 1024 },
    onProgress: (p: any) => { const now = Date.now(); if (p.phase !== (globalThis as any).ph) { console.log(`  ${(globalThis as any).ph} ${now - prev} ms`); prev = now; (globalThis as any).ph = p.phase; } } }, {
    taskId: randomUUID(), policyId, policyJson: JSON.stringify({ id: policyId }), vmUuid,
    targets: [{ remoteId: remote.remoteId, backupId: `20240101T0000${String(n).padStart(2, '0')}Z-big`, storage: remote.storage }],
    bases: full ? new Map() : new Map(last.disks.map((d: any) => [d.diskKey, d.snapshotVdiUuid])), purgeSnapshotData: true,
  });
  console.log(`  ${(globalThis as any).ph} ${Date.now() - prev} ms`); (globalThis as any).ph = undefined;
  console.log(`${last.disks[0].mode} ${(Date.now() - t) / 1000} s`);
}
await backup(true);
await env.admin.write({ vdi: disk!, pattern: 'clustered-64k', percent: 1, seed: 5 });
await backup(false);
await remote.close(); await env.close();
