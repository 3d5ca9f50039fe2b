// Storage tasks end to end on the real NATS server and a real storage agent (in process, real
// gRPC on loopback): verify finds a flipped byte in a stored delta and changes nothing; merge
// retires the full and keeps every later date readable (and is idempotent); delete removes only
// what no chain needs; scan reports backups and chains and removes garbage.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { open, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { StorageClient, GetDiskFormat } from '../shared/grpc/storage-client.js';
import { VhdFile } from '../shared/vhd/index.js';
import { TaskStatus, type TaskResult } from '../shared/proto/gen/deltachain/tasks/v1/event.js';
import { MiB, diskHeader, listTree, patternBlock, records, tempRemoteRoot } from './support/storage-harness.js';
import { resultOf, storageTask, type TestNats } from './support/storage-nats.js';
import { startStorageAgentOnNats, type StorageAgentOnNats } from './support/storage-agent-nats.js';

const SIZE = 16 * MiB;
const remoteId = `tasks-${randomUUID().slice(0, 8)}`;

describe('storage tasks over NATS', () => {
  let root: string;
  let nats: TestNats;
  let client: StorageClient;
  let stack: StorageAgentOnNats;
  const vm = randomUUID();
  const ids = ['20261126T100000Z-f', '20261127T100000Z-d1', '20261128T100000Z-d2'];
  const uuids = ids.map(() => randomUUID());
  const layers = [new Map([[0, 1], [2, 1], [5, 1]]), new Map([[2, 2], [3, 2]]), new Map([[5, 3]])];

  async function upload(n: number): Promise<void> {
    const layer = layers[n]!;
    const header = diskHeader({ vmUuid: vm, backupId: ids[n]!, footerUuid: uuids[n]!, parentFooterUuid: n === 0 ? '' : uuids[n - 1]!, virtualSize: SIZE });
    await client.putDisk(header, [...layer].map(([index, seed]) => ({ index, data: patternBlock(seed, index) })));
    await client.commitBackup({ backupId: ids[n]!, vmUuid: vm, timestampMs: Date.now(), diskKeys: ['xvda'], recordsJson: records(vm), policyJson: '', diskSources: [] });
  }

  async function run(payload: Parameters<typeof storageTask>[1]): Promise<TaskResult> {
    const task = storageTask(remoteId, payload);
    await nats.publish(task);
    const event = await resultOf(nats, task.taskId);
    assert.equal(event.body?.$case, 'result');
    return event.body.value as TaskResult;
  }

  async function readBack(backupId: string, want: Map<number, number>): Promise<void> {
    const seen: number[] = [];
    for await (const part of client.getDiskParts(vm, backupId, 'xvda', GetDiskFormat.GET_DISK_FORMAT_BLOCKS)) {
      if (part.$case !== 'block') continue;
      assert.ok(Buffer.from(part.value.data).equals(patternBlock(want.get(part.value.index)!, part.value.index)), `${backupId} block ${part.value.index}`);
      seen.push(part.value.index);
    }
    assert.deepEqual(seen, [...want.keys()].sort((a, b) => a - b));
  }

  const folder = (): string => join(root, 'vms', vm, 'disks', 'xvda');

  before(async () => {
    root = await tempRemoteRoot();
    stack = await startStorageAgentOnNats(remoteId, root);
    ({ nats, client } = stack);
    for (let n = 0; n < 3; n++) await upload(n);
  });

  after(async () => {
    await stack.close();
    await rm(root, { recursive: true, force: true });
  });

  test('verify passes on intact data and finds a flipped byte in a stored delta, changing nothing', async () => {
    const good = await run({ $case: 'verify', value: { vmUuid: vm, backupId: ids[2]! } });
    assert.equal(good.status, TaskStatus.TASK_STATUS_SUCCEEDED);
    assert.ok(good.output?.$case === 'verify');
    assert.deepEqual(good.output.value.badBlocks, []);
    assert.equal(good.output.value.ok, true);
    assert.equal(good.output.value.blocksChecked, 6);

    const d1 = join(folder(), `${ids[1]}.vhd`);
    const file = await VhdFile.open(d1);
    const offset = file.bat[3]! * 512 + file.bitmapSize + 12345;
    await file.close();
    const handle = await open(d1, 'r+');
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, offset);
    await handle.write(Buffer.from([byte[0]! ^ 0x40]), 0, 1, offset);
    const before = await readFile(d1);
    try {
      const bad = await run({ $case: 'verify', value: { vmUuid: vm, backupId: ids[2]! } });
      assert.equal(bad.status, TaskStatus.TASK_STATUS_SUCCEEDED);
      assert.ok(bad.output?.$case === 'verify');
      assert.equal(bad.output.value.ok, false);
      assert.deepEqual(bad.output.value.badBlocks, [{ diskKey: 'xvda', path: `vms/${vm}/disks/xvda/${ids[1]}.vhd`, index: 3, reason: 'checksum mismatch' }]);
      assert.ok((await readFile(d1)).equals(before), 'verify modified the file');
    } finally {
      await handle.write(byte, 0, 1, offset);
      await handle.close();
    }
  });

  test('merge retires the full, keeps later dates byte-identical, and a repeat is harmless', async () => {
    const result = await run({ $case: 'merge', value: { vmUuid: vm, backupId: ids[1]! } });
    assert.equal(result.status, TaskStatus.TASK_STATUS_SUCCEEDED, result.error?.message);
    assert.ok(result.output?.$case === 'merge');
    assert.deepEqual(result.output.value.retiredBackupIds, [ids[0]]);
    assert.equal(result.output.value.disks[0]?.merged, true);
    assert.deepEqual((await client.listBackups(vm)).map((b) => b.backupId), ids.slice(1));
    const list = await client.listBackups(vm);
    assert.equal(list[0]?.disks[0]?.chainPosition, 0);
    assert.equal(list[1]?.disks[0]?.chainPosition, 1);
    await readBack(ids[1]!, new Map([[0, 1], [2, 2], [3, 2], [5, 1]]));
    await readBack(ids[2]!, new Map([[0, 1], [2, 2], [3, 2], [5, 3]]));
    const verify = await run({ $case: 'verify', value: { vmUuid: vm, backupId: ids[2]! } });
    assert.ok(verify.output?.$case === 'verify' && verify.output.value.ok, JSON.stringify(verify.output?.value));

    const again = await run({ $case: 'merge', value: { vmUuid: vm, backupId: ids[1]! } });
    assert.equal(again.status, TaskStatus.TASK_STATUS_SUCCEEDED);
    assert.ok(again.output?.$case === 'merge');
    assert.equal(again.output.value.disks[0]?.merged, false);
    assert.deepEqual(again.output.value.retiredBackupIds, []);
  });

  test('scan reports backups and chains and removes garbage, sparing what is young or unknown', async () => {
    await writeFile(join(folder(), '.20261129T000000Z-x.vhd.1a2b3c4d.tmp'), 'partial upload');
    await writeFile(join(folder(), 'notes.txt'), 'an operator note');
    const uncommitted = diskHeader({ vmUuid: vm, backupId: '20261129T000000Z-u', parentFooterUuid: uuids[2]!, virtualSize: SIZE });
    await client.putDisk(uncommitted, [{ index: 1, data: patternBlock(4, 1) }]);
    const young = join(folder(), '.young.vhd.00000000.tmp');
    await writeFile(young, 'just written');
    const old = new Date(Date.now() - 3_600_000);
    for (const name of ['.20261129T000000Z-x.vhd.1a2b3c4d.tmp', '20261129T000000Z-u.vhd', '20261129T000000Z-u.vhd.sums']) await utimes(join(folder(), name), old, old);

    const report = await run({ $case: 'scan', value: { removeGarbage: true, graceSeconds: 600 } });
    assert.ok(report.output?.$case === 'scan');
    const scan = report.output.value;
    assert.deepEqual(scan.backups.map((b) => b.backupId), ids.slice(1));
    assert.deepEqual(scan.chains, [{ vmUuid: vm, diskKey: 'xvda', footerUuids: [uuids[1], uuids[2]], backupIds: ids.slice(1) }]);
    const byPath = new Map(scan.garbage.map((g) => [g.path.split('/').pop(), g]));
    assert.equal(byPath.get('.20261129T000000Z-x.vhd.1a2b3c4d.tmp')?.removed, true);
    assert.equal(byPath.get('20261129T000000Z-u.vhd')?.removed, true);
    assert.equal(byPath.get('20261129T000000Z-u.vhd.sums')?.removed, true);
    assert.equal(byPath.get('.young.vhd.00000000.tmp')?.removed, false);
    assert.equal(byPath.get('notes.txt')?.removed, false);
    const files = await listTree(folder());
    assert.deepEqual(files, ['.young.vhd.00000000.tmp', `${ids[1]}.vhd`, `${ids[1]}.vhd.sums`, `${ids[2]}.vhd`, `${ids[2]}.vhd.sums`, 'notes.txt']);
    await rm(young);
    await rm(join(folder(), 'notes.txt'));
  });

  test('delete removes a backup and only the files no chain needs; a repeat reports it gone', async () => {
    const middle = await run({ $case: 'delete', value: { vmUuid: vm, backupId: ids[1]! } });
    assert.ok(middle.output?.$case === 'delete');
    assert.equal(middle.output.value.existed, true);
    assert.deepEqual(middle.output.value.keptPaths, [`vms/${vm}/disks/xvda/${ids[1]}.vhd`]);
    await readBack(ids[2]!, new Map([[0, 1], [2, 2], [3, 2], [5, 3]]));

    const tail = await run({ $case: 'delete', value: { vmUuid: vm, backupId: ids[2]! } });
    assert.ok(tail.output?.$case === 'delete');
    assert.equal(tail.output.value.existed, true);
    assert.ok(tail.output.value.removedPaths.includes(`vms/${vm}/disks/xvda/${ids[2]}.vhd`));
    assert.deepEqual(await client.listBackups(vm), []);

    const again = await run({ $case: 'delete', value: { vmUuid: vm, backupId: ids[2]! } });
    assert.ok(again.output?.$case === 'delete');
    assert.equal(again.output.value.existed, false);

    const scan = await run({ $case: 'scan', value: { removeGarbage: true, graceSeconds: 0 } });
    assert.ok(scan.output?.$case === 'scan');
    assert.deepEqual(await listTree(join(root, 'vms', vm)), []);
  });

  test('a task for another remote or of a host kind fails with a clear error', async () => {
    const wrong = await run({ $case: 'backup', value: { vmUuid: vm, backupId: 'x', remoteId, storageAddress: '', baseSnapshotVdiByDisk: {}, policyJson: '', moreTargets: [], policyRemoteIds: [] } });
    assert.equal(wrong.status, TaskStatus.TASK_STATUS_FAILED);
    assert.match(wrong.error?.message ?? '', /runs merge, verify, delete, scan and mirror tasks, not backup/);
  });
});
