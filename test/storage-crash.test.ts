// Crash safety with real processes: a storage agent SIGKILLed in the middle of a merge resumes it
// on restart before taking new work, and every retained date reads correctly both in the crashed
// state and after, with no stray file; a client killed mid-upload leaves no visible backup; an
// agent killed mid-upload leaves only a temporary, which the restarted agent removes before serving.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ChannelCredentials } from '@grpc/grpc-js';
import { StorageClient, GetDiskFormat } from '../shared/grpc/storage-client.js';
import { ChainReader, DiskType, VhdFile } from '../shared/vhd/index.js';
import { TaskStatus, type TaskResult } from '../shared/proto/gen/deltachain/tasks/v1/event.js';
import { MiB, diskHeader, patternBlock, records, tempRemoteRoot } from './support/storage-harness.js';
import { resultOf, startTestNats, storageTask, type TestNats } from './support/storage-nats.js';
import { startAgentProcess, type AgentProcess } from './support/storage-agent-process.js';

const SIZE = 128 * MiB;
const BLOCKS = 64;
const UPLOADER = fileURLToPath(new URL('./support/storage-upload-child.ts', import.meta.url));

describe('storage agent crash safety (real processes, SIGKILL)', () => {
  let root: string;
  let nats: TestNats;
  let agent: AgentProcess | undefined;
  const remoteId = `crash-${randomUUID().slice(0, 8)}`;
  const start = (): Promise<AgentProcess> => startAgentProcess({ folder: root, root: join(root, 'remote'), remoteId, namespace: nats.namespace, mergeCheckpointBlocks: 1, ackWaitSeconds: 5 });
  const client = (): StorageClient => new StorageClient(agent!.address, ChannelCredentials.createInsecure());

  before(async () => {
    root = await tempRemoteRoot();
    nats = await startTestNats();
    await nats.queue('storage', remoteId, { ackWaitSeconds: 5 });
  });
  after(async () => {
    await agent?.kill('SIGKILL');
    await nats.close();
    await rm(root, { recursive: true, force: true });
  });

  test('SIGKILL mid-merge: retained dates read correctly, restart resumes the merge first', async () => {
    const vm = randomUUID();
    const ids = ['20261126T100000Z-f', '20261127T100000Z-d1', '20261128T100000Z-d2'];
    const uuids = ids.map(() => randomUUID());
    const d1Blocks = Array.from({ length: BLOCKS }, (_, i) => i);
    const layers = [new Map(d1Blocks.map((i) => [i, 1])), new Map(d1Blocks.map((i) => [i, 2])), new Map([[3, 3], [40, 3]])];
    const want = (upTo: number): Map<number, number> => {
      const out = new Map<number, number>();
      for (let n = 0; n <= upTo; n++) for (const [i, s] of layers[n]!) out.set(i, s);
      return out;
    };
    agent = await start();
    let c = client();
    for (let n = 0; n < 3; n++) {
      const header = diskHeader({ vmUuid: vm, backupId: ids[n]!, footerUuid: uuids[n]!, parentFooterUuid: n === 0 ? '' : uuids[n - 1]!, virtualSize: SIZE });
      await c.putDisk(header, (function* () {
        for (const [index, seed] of layers[n]!) yield { index, data: patternBlock(seed, index) };
      })());
      await c.commitBackup({ backupId: ids[n]!, vmUuid: vm, timestampMs: Date.now(), diskKeys: ['xvda'], recordsJson: records(vm), policyJson: '', diskSources: [] });
    }
    c.close();

    const task = storageTask(remoteId, { $case: 'merge', value: { vmUuid: vm, backupId: ids[1]! } });
    await nats.publish(task);
    await nats.waitForEvent((e) => e.taskId === task.taskId && e.body?.$case === 'progress' && (e.body.value.done as number) >= 1, 30_000, 'merge progress');
    await agent.kill('SIGKILL');
    agent = undefined;

    const folder = join(root, 'remote', 'vms', vm, 'disks', 'xvda');
    const names = await readdir(folder);
    assert.ok(names.includes(`.${ids[0]}.vhd.merge.json`), `the merge was not interrupted (files: ${names.join(', ')})`);
    // The crashed state: every retained date (d1, d2) still reads correctly through the chain.
    for (const n of [1, 2]) {
      const chain = await ChainReader.open(join(folder, `${ids[n]}.vhd`));
      try {
        for (const [index, seed] of want(n)) assert.ok((await chain.readBlock(index)).equals(patternBlock(seed, index)), `crashed state: ${ids[n]} block ${index}`);
      } finally {
        await chain.close();
      }
    }

    agent = await start();
    const after = await readdir(folder);
    assert.ok(!after.some((n) => n.includes('.merge.')), `merge state left after restart: ${after.join(', ')}`);
    assert.ok(!after.includes(`${ids[0]}.vhd`), 'the full was not renamed over the delta');
    assert.deepEqual(after.sort(), [`${ids[1]}.vhd`, `${ids[1]}.vhd.sums`, `${ids[2]}.vhd`, `${ids[2]}.vhd.sums`], 'no stray file (the full\'s checksums) after recovery');
    const merged = await VhdFile.open(join(folder, `${ids[1]}.vhd`));
    assert.equal(merged.footer.diskType, DiskType.Dynamic);
    assert.equal(merged.footer.uuid, uuids[1]);
    await merged.close();
    assert.ok(agent.logs.some((l) => l.msg === 'interrupted merge finished'), 'restart did not log the resumed merge');

    c = client();
    try {
      for (const n of [1, 2]) {
        const expected = want(n);
        for await (const part of c.getDiskParts(vm, ids[n]!, 'xvda', GetDiskFormat.GET_DISK_FORMAT_BLOCKS)) {
          if (part.$case === 'block') assert.ok(Buffer.from(part.value.data).equals(patternBlock(expected.get(part.value.index)!, part.value.index)), `after restart: ${ids[n]} block ${part.value.index}`);
        }
      }
      assert.deepEqual((await c.listBackups(vm)).map((b) => b.backupId), ids.slice(1));
    } finally {
      c.close();
    }
    // The unacked task comes back (at least once) and is now a harmless no-op.
    const redelivered = await resultOf(nats, task.taskId, 30_000);
    const result = redelivered.body?.value as TaskResult;
    assert.equal(result.status, TaskStatus.TASK_STATUS_SUCCEEDED, result.error?.message);
    const verify = storageTask(remoteId, { $case: 'verify', value: { vmUuid: vm, backupId: ids[2]! } });
    await nats.publish(verify);
    const verified = (await resultOf(nats, verify.taskId)).body?.value as TaskResult;
    assert.ok(verified.output?.$case === 'verify' && verified.output.value.ok, JSON.stringify(verified.output?.value));
  });

  test('a client killed mid-stream leaves no visible backup; an agent killed mid-upload leaves a temporary that its restart removes', async () => {
    agent ??= await start();
    const vm = randomUUID();
    const folder = join(root, 'remote', 'vms', vm, 'disks', 'xvda');
    const uploadAndKill = async (backupId: string, kill: 'client' | 'agent'): Promise<void> => {
      const child = spawn(process.execPath, ['--import', 'tsx', UPLOADER, agent!.address, vm, backupId, '64', '150'], { stdio: ['ignore', 'pipe', 'ignore'] });
      const exited = new Promise((resolve) => child.once('exit', resolve));
      await new Promise<void>((resolve, reject) => {
        createInterface({ input: child.stdout! }).on('line', (line) => line === 'sent 3' && resolve());
        void exited.then(() => reject(new Error('uploader exited early')));
      });
      // The client runs ahead of the server by its window: wait for the server's temporary.
      let temps: string[] = [];
      for (let i = 0; i < 100 && temps.length === 0; i++) {
        temps = (await readdir(folder).catch(() => [])).filter((n) => n.endsWith('.tmp'));
        if (temps.length === 0) await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(temps.length, 1, `one temporary while uploading: ${temps.join(', ')}`);
      if (kill === 'client') child.kill('SIGKILL');
      else await agent!.kill('SIGKILL');
      await exited.catch(() => undefined);
      if (kill === 'agent') child.kill('SIGKILL');
    };

    await uploadAndKill('20261126T110000Z-client', 'client');
    // The server sees the stream cancelled and drops its temporary, and the folders the upload created.
    const vmFolder = join(root, 'remote', 'vms', vm);
    const exists = (path: string): Promise<boolean> => stat(path).then(() => true, () => false);
    for (let i = 0; i < 50 && (await exists(vmFolder)); i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(await exists(vmFolder), false, 'nothing of the VM is left');
    let c = client();
    assert.deepEqual(await c.listBackups(vm), []);
    c.close();

    await uploadAndKill('20261126T120000Z-agent', 'agent');
    const left = await readdir(folder);
    assert.equal(left.length, 1);
    assert.match(left[0]!, /^\.20261126T120000Z-agent\.vhd\.[0-9a-f]{8}\.tmp$/);
    agent = await start();
    assert.deepEqual(await readdir(folder), [], 'the restarted agent removed the temporary before serving');
    assert.ok(agent.logs.some((l) => l.msg === 'leftovers of interrupted uploads removed' && (l.paths as string[]).some((p) => p.endsWith(left[0]!))), 'and said so');
    c = client();
    assert.deepEqual(await c.listBackups(vm), []);
    c.close();
    const scan = storageTask(remoteId, { $case: 'scan', value: { removeGarbage: false, graceSeconds: 3600 } });
    await nats.publish(scan);
    const result = (await resultOf(nats, scan.taskId)).body?.value as TaskResult;
    assert.ok(result.output?.$case === 'scan');
    assert.deepEqual(result.output.value.garbage, [], 'a scan finds no garbage');
  });
});
