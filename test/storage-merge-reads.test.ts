// Reads during retention merges (docs/remote-format.md §10), against a real storage agent process
// (gRPC on loopback, tasks over the real NATS server, SIGKILL where a crash is the point).
//
// A chain of 4 KiB blocks (full + deltas, overlapping and not, some partially marked, the disk
// growing every few dates) is merged oldest delta into full, round after round. In each round,
// while the merge task runs: every retained date is read over and over with GetDisk in both
// formats and verified with the verify task; before the merge starts, a reader of every date
// (including the full's, which the merge retires) opens its stream and stops pulling until the
// merge has copied blocks, so it reads with the chain as it was when it opened — the case where
// a merge that grows the full's BAT moves blocks that reader still points at (see
// merge-reads-model.ts for how the chain is shaped to reach it). Some rounds SIGKILL the agent
// mid-merge with reads in flight and restart it, which finishes the merge before new work.
//
// Every read that completes must deliver exactly its date's content (an in-memory model, not the
// VHD module); a verify that completes must find nothing wrong. Reads of retained dates may fail
// only when the kill cut them; a read of the retired date may also fail with NOT_FOUND.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { ChannelCredentials } from '@grpc/grpc-js';
import { StorageClient } from '../shared/grpc/storage-client.js';
import { TaskStatus, type Event, type TaskResult } from '../shared/proto/gen/deltachain/tasks/v1/event.js';
import { readDisk, smallWindowParts, type ReadFormat, type ReadOutcome } from './support/disk-read-probe.js';
import { BLOCK_SIZE, ChainModel, expectedDigest, type ModelDate } from './support/merge-reads-model.js';
import { startAgentProcess, type AgentProcess } from './support/storage-agent-process.js';
import { diskHeader, records, tempRemoteRoot } from './support/storage-harness.js';
import { startTestNats, storageTask, type TestNats } from './support/storage-nats.js';

const ROUNDS = 20;
const KILL_ROUNDS = new Set([5, 11, 16]);
const FORMATS: ReadFormat[] = ['blocks', 'vhd'];

interface Judged {
  round: number;
  killed: boolean;
  date: ModelDate;
  retiring: boolean;
  outcome: ReadOutcome;
}

describe('reads during retention merges (real storage agent process)', () => {
  let root: string;
  let nats: TestNats;
  let agent: AgentProcess | undefined;
  let client: StorageClient;
  const vm = randomUUID();
  const remoteId = `mreads-${randomUUID().slice(0, 8)}`;
  const model = new ChainModel(`merge-reads ${vm}`);
  const folder = (): string => join(root, 'remote', 'vms', vm, 'disks', 'xvda');
  const reads: Judged[] = [];
  const tasks = new Map<string, { kind: 'merge' | 'verify'; round: number; killed: boolean; date: ModelDate }>();
  const stats = { overlapping: 0, openedDuringMerge: 0, verifiesDuringMerge: 0, killsMidMerge: 0, cutByKill: 0, resumedAtStart: 0 };

  async function startAgent(): Promise<void> {
    agent = await startAgentProcess({ folder: root, root: join(root, 'remote'), remoteId, namespace: nats.namespace, mergeCheckpointBlocks: 1, ackWaitSeconds: 5 });
    client = new StorageClient(agent.address, ChannelCredentials.createInsecure());
  }

  async function upload(date: ModelDate): Promise<void> {
    const parent = model.dates[date.n - 1];
    const header = diskHeader({ vmUuid: vm, backupId: date.backupId, footerUuid: date.uuid, parentFooterUuid: parent?.uuid ?? '', virtualSize: date.size, blockSize: BLOCK_SIZE });
    await client.putDisk(header, date.upload);
    await client.commitBackup({ backupId: date.backupId, vmUuid: vm, timestampMs: Date.now(), diskKeys: ['xvda'], recordsJson: records(vm), policyJson: '', diskSources: [] });
  }

  function publish(kind: 'merge' | 'verify', date: ModelDate, round: number): string {
    const task = storageTask(remoteId, { $case: kind, value: { vmUuid: vm, backupId: date.backupId } });
    tasks.set(task.taskId, { kind, round, killed: false, date });
    void nats.publish(task);
    return task.taskId;
  }

  const eventOf = (taskId: string, kind: NonNullable<Event['body']>['$case']): Promise<Event> =>
    nats.waitForEvent((e) => e.taskId === taskId && e.body?.$case === kind, 60_000, `${kind} of ${taskId}`);

  before(async () => {
    root = await tempRemoteRoot();
    nats = await startTestNats();
    await startAgent();
    for (let n = 0; n < 4; n++) await upload(model.next());
  });

  after(async () => {
    client?.close();
    await agent?.kill('SIGKILL');
    await nats.close();
    await rm(root, { recursive: true, force: true });
  });

  /** One round: merge dates[oldest + 1] into dates[oldest] while everything retained is read. */
  async function mergeRound(round: number, oldest: number): Promise<void> {
    const kill = KILL_ROUNDS.has(round);
    const retained = model.dates.slice(oldest);
    const [full, child] = [retained[0]!, retained[1]!];
    let ended = false;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const record = (date: ModelDate, outcome: ReadOutcome): void => void reads.push({ round, killed: kill, date, retiring: date === full, outcome });

    // Readers opened before the merge that stop pulling until it has copied blocks (a small
    // flow-control window, so the server cannot read their whole disk ahead).
    const small = smallWindowParts(agent!.address);
    const paused = retained.flatMap((date) => FORMATS.map((format) => [date, format] as const)).map(([date, format]) => {
      let atHold!: () => void;
      const arrived = new Promise<void>((resolve) => (atHold = resolve));
      const done = readDisk(small.parts, vm, date.backupId, format, () => (atHold(), held)).then((o) => record(date, o));
      return { arrived: Promise.race([arrived, done]), done };
    });
    await Promise.all(paused.map((p) => p.arrived));

    const mergeId = publish('merge', child, round);
    publish('verify', full, round);
    const started = await eventOf(mergeId, 'started');
    const progress = eventOf(mergeId, 'progress');
    // Without a lock the merge copies blocks under the paused readers; with one it waits for them.
    void Promise.race([progress.then(() => delay(30)), delay(250)]).then(release);

    const pairs = retained.slice(1).flatMap((date) => FORMATS.map((format) => [date, format] as const));
    const parts = client.getDiskParts.bind(client);
    const loops = [0, 1].map(async (offset) => {
      for (let k = offset; !ended; k += 2) {
        const [date, format] = pairs[k % pairs.length]!;
        record(date, await readDisk(parts, vm, date.backupId, format));
      }
    });
    const verifying = (async () => {
      for (let k = 0; !ended; k++) {
        const taskId = publish('verify', retained[1 + (k % (retained.length - 1))]!, round);
        await Promise.race([eventOf(taskId, 'result'), until(() => ended)]);
      }
    })();

    let end: number;
    if (kill) {
      await progress;
      await delay(20 + Math.floor(Math.random() * 120));
      await agent!.kill('SIGKILL');
      end = Date.now();
      ended = true;
      for (const t of tasks.values()) if (t.round === round) t.killed = true;
      const names = await readdir(folder());
      if (names.some((n) => n.endsWith('.merge.json') || n.endsWith('.sums.merged'))) stats.killsMidMerge++;
    } else {
      const result = await eventOf(mergeId, 'result');
      end = result.emittedAtMs;
      ended = true;
    }
    await Promise.all([...loops, verifying, ...paused.map((p) => p.done)]);
    small.close();
    if (kill) await restartAfterKill();
    const first = (await Promise.race([progress, delay(0).then(() => undefined)]))?.emittedAtMs ?? started.emittedAtMs;
    countOverlap(round, first, end);
    if (process.env.MERGE_READS_DEBUG) {
      const mine = reads.filter((r) => r.round === round);
      const bad = mine.filter((r) => r.outcome.ok && r.outcome.digest !== expectedDigest(r.date)).map((r) => `${r.retiring ? 'RETIRING' : 'retained'} ${r.date.backupId} ${r.outcome.format} opened ${(r.outcome.openedAt ?? 0) - first} end ${r.outcome.endedAt - first}`);
      console.log(`round ${round}: merge ${started.emittedAtMs - first}..${end - first} ms after first progress, reads ${mine.length}, avg ${Math.round(mine.reduce((a, r) => a + r.outcome.endedAt - r.outcome.startedAt, 0) / mine.length)} ms`, bad);
    }
  }

  async function restartAfterKill(): Promise<void> {
    client.close();
    await startAgent();
    // "storage agent ready" comes after merge recovery: nothing of the merge may be left.
    const names = await readdir(folder());
    assert.ok(!names.some((n) => n.includes('.merge.') || n.endsWith('.sums.merged')), `after restart: ${names.join(', ')}`);
    if (agent!.logs.some((l) => l.msg === 'interrupted merge finished')) stats.resumedAtStart++;
  }

  function countOverlap(round: number, from: number, to: number): void {
    for (const r of reads) {
      if (r.round !== round) continue;
      const o = r.outcome;
      if (o.startedAt <= to && o.endedAt >= from) stats.overlapping++;
      if (o.openedAt !== undefined && o.openedAt >= from && o.openedAt <= to) stats.openedDuringMerge++;
      if (r.killed && !o.ok) stats.cutByKill++;
    }
    for (const [taskId, t] of tasks) {
      if (t.round !== round || t.kind !== 'verify') continue;
      const s = nats.events.find((e) => e.taskId === taskId && e.body?.$case === 'started');
      const r = nats.events.find((e) => e.taskId === taskId && e.body?.$case === 'result');
      if (s && s.emittedAtMs <= to && (r?.emittedAtMs ?? to) >= from) stats.verifiesDuringMerge++;
    }
  }

  test(`${ROUNDS} merges with reads in both formats and verify of every retained date, ${KILL_ROUNDS.size} of them SIGKILLed: no wrong bytes`, async (t) => {
    const began = Date.now();
    for (let round = 0; round < ROUNDS; round++) {
      await upload(model.next());
      await mergeRound(round, round);
    }
    // Quiet state: every retained date once more, then every task's (last) result.
    const retained = model.dates.slice(ROUNDS);
    for (const date of retained) for (const format of FORMATS) reads.push({ round: ROUNDS, killed: false, date, retiring: false, outcome: await readDisk(client.getDiskParts.bind(client), vm, date.backupId, format) });
    for (const date of retained) publish('verify', date, ROUNDS);
    const results = await Promise.all([...tasks.keys()].map(async (id) => [id, (await eventOf(id, 'result')).body!.value as TaskResult] as const));

    const wrong = reads.filter((r) => r.outcome.ok && (r.outcome.digest !== expectedDigest(r.date) || r.outcome.inconsistent));
    const failedRetained = reads.filter((r) => !r.outcome.ok && !r.killed && !r.retiring);
    const failedRetiring = reads.filter((r) => !r.outcome.ok && !r.killed && r.retiring && !/NOT_FOUND|is not on remote/.test(r.outcome.error ?? ''));
    const badVerify = results.filter(([, r]) => r.status === TaskStatus.TASK_STATUS_SUCCEEDED && r.output?.$case === 'verify' && !r.output.value.ok);
    const failedTasks = results.filter(([id, r]) => r.status !== TaskStatus.TASK_STATUS_SUCCEEDED && !allowedFailure(id, r));
    t.diagnostic(
      `rounds ${ROUNDS}, reads ${reads.length} (${reads.filter((r) => r.outcome.ok).length} completed), verifies ${[...tasks.values()].filter((x) => x.kind === 'verify').length}, ` +
        `${JSON.stringify(stats)}, wrong ${wrong.length}, failed retained ${failedRetained.length}, bad verify ${badVerify.length}, ${Date.now() - began} ms`,
    );
    const show = (rs: Judged[]): string => rs.slice(0, 5).map((r) => `round ${r.round} ${r.date.backupId} ${r.outcome.format}: ${r.outcome.inconsistent ?? r.outcome.error ?? 'content differs'}`).join('\n');
    assert.equal(wrong.length, 0, `reads that returned wrong bytes as success:\n${show(wrong)}`);
    assert.equal(failedRetained.length, 0, `reads of retained dates that failed without a kill:\n${show(failedRetained)}`);
    assert.equal(failedRetiring.length, 0, `reads of the retired date that failed other than NOT_FOUND:\n${show(failedRetiring)}`);
    assert.equal(badVerify.length, 0, `verify found damage in an intact chain: ${JSON.stringify(badVerify.slice(0, 3).map(([, r]) => r.output?.value))}`);
    assert.equal(failedTasks.length, 0, `tasks failed: ${JSON.stringify(failedTasks.slice(0, 3).map(([, r]) => r.error))}`);
    assert.equal(stats.killsMidMerge, KILL_ROUNDS.size, 'every kill must land while the merge was unfinished');
    assert.ok(stats.openedDuringMerge + stats.overlapping >= ROUNDS * 4, `too few reads overlapped a merge: ${JSON.stringify(stats)}`);
  });

  /** Not found is the answer for a date retired meanwhile (a redelivered task after a kill, the full's verify). */
  function allowedFailure(taskId: string, result: TaskResult): boolean {
    const task = tasks.get(taskId)!;
    const notFound = result.error?.code === 'STORAGE_NOT_FOUND';
    if (task.kind === 'verify') return notFound && (task.killed || model.dates.indexOf(task.date) === task.round);
    return notFound && task.killed;
  }
});

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await delay(20);
}
