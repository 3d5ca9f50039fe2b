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
let n = 0;
let last: any;
async function backup(method: 'cbt' | 'vhd-export', full: boolean) {
  n++;
  const t = Date.now(); const cpu = process.cpuUsage();
  last = await backupVm({ xapi: env.xapi, disksPerVm: 2, logger: env.logger, progressIntervalMs: 0, changedBlocks: method, nbd: { connections: 2, maxInFlightBytes: 32 * 1024 * 1024 } }, {
    taskId: randomUUID(), policyId, policyJson: JSON.stringify({ id: policyId }), vmUuid,
    targets: [{ remoteId: remote.remoteId, backupId: `20240101T0000${String(n).padStart(2, '0')}Z-big`, storage: remote.storage }],
    bases: full ? new Map() : new Map(last.disks.map((d: any) => [d.diskKey, d.snapshotVdiUuid])), purgeSnapshotData: method === 'cbt',
  });
  const c = process.cpuUsage(cpu);
  const d = last.disks[0];
  console.log(`${method} ${d.mode} ${d.readMethod} ${d.fallbackReason ?? ''}: ${(Date.now() - t) / 1000} s, cpu ${((c.user + c.system) / 1e6).toFixed(1)} s (all in-process), ${d.blocks} blocks, ${(d.bytesSent / 1048576).toFixed(1)} MiB`);
}
await backup('vhd-export', true);
await backup('cbt', true);
for (const pattern of ['clustered', 'clustered-64k', 'scattered'] as const) {
  for (const method of ['vhd-export', 'cbt'] as const) {
    await env.admin.write({ vdi: disk!, pattern, percent: 1, seed: n });
    process.stdout.write(`${pattern} `);
    await backup(method, false);
  }
}
await remote.close(); await env.close();
