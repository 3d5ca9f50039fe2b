// Reads during retention merges (docs/remote-format.md §10, agent/storage/chain-locks.ts), against
// a real storage agent process: gRPC on loopback, tasks over the real NATS server, SIGKILL.
//
// A chain of 4 KiB blocks (full + deltas, overlapping and not, some partially marked, the disk
// growing every few dates) is merged oldest delta into full, round after round, each round after
// a new delta was committed. In each round:
// - before the merge task is sent, a reader of every date (the full's, which the merge retires,
//   included) in both formats opens its stream and stops pulling until the merge has copied
//   blocks, or for a while if the merge waits for it. Without a lock it reads with the chain as
//   it was when it opened: the full's blocks rewritten under the full's date, and — when the
//   merge grows the full's BAT — blocks moved away from where it still looks
//   (merge-reads-model.ts shapes the chain so those blocks come after what gRPC reads ahead);
// - while the merge task runs, the retained dates are read again and again in both formats and
//   verified with the verify task;
// - in KILL_ROUNDS the agent is SIGKILLed while the merge's state file exists, reads in flight,
//   then restarted: recovery finishes the merge before the agent takes new work.
// Every read that completes must deliver exactly its date's content (an in-memory model, not the
// VHD module); a verify that completes must find nothing wrong. A read may fail only when the kill
// cut it, or, for the retired date, with NOT_FOUND.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
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
/** Dates in the chain when a round starts (full + deltas), before its new delta. */
const CHAIN = 4;

interface Judged {
  round: number;
  killed: boolean;
  paused: boolean;
  date: ModelDate;
  retiring: boolean;
  outcome: ReadOutcome;
}

describe('reads during retention merges (real storage agent process)', () => {
  let root: string;
  let nats: TestNats;
  let agent: AgentProcess | undefined;
  let client: StorageClient;
  const agentLogs: Record<string, unknown>[][] = [];
  const vm = randomUUID();
  const remoteId = `mreads-${randomUUID().slice(0, 8)}`;
  const model = new ChainModel(`merge-reads ${vm}`);
  const folder = (): string => join(root, 'remote', 'vms', vm, 'disks', 'xvda');
  const reads: Judged[] = [];
  const tasks = new Map<string, { kind: 'merge' | 'verify'; round: number; killed: boolean; date: ModelDate }>();
  const stats = { streamingWhenCopyBegan: 0, issuedDuringMerge: 0, verifiesDuringMerge: 0, killsMidMerge: 0, cutByKill: 0, resumedAtStart: 0 };

  async function startAgent(): Promise<void> {
    agent = await startAgentProcess({ folder: root, root: join(root, 'remote'), remoteId, namespace: nats.namespace, mergeCheckpointBlocks: 1, ackWaitSeconds: 5 });
    agentLogs.push(agent.logs);
    client = new StorageClient(agent.address, ChannelCredentials.createInsecure());
  }

  /** Commits the next date; a delta merged in a kill round is larger, so the kill lands inside it. */
  async function commitNext(): Promise<void> {
    const date = model.next(KILL_ROUNDS.has(model.dates.length - 1) ? 5 : 1);
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

  /** The task's first event of `kind` (polled, so nothing waits on after the test); undefined once `stop()`. */
  async function eventOf(taskId: string, kind: NonNullable<Event['body']>['$case'], stop = (): boolean => false): Promise<Event | undefined> {
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; await delay(10)) {
      const event = nats.events.find((e) => e.taskId === taskId && e.body?.$case === kind);
      if (event || stop()) return event;
    }
    throw new Error(`no ${kind} event of task ${taskId} within 60 s`);
  }

  before(async () => {
    root = await tempRemoteRoot();
    nats = await startTestNats();
    await nats.queue('storage', remoteId, { ackWaitSeconds: 5 });
    await startAgent();
    for (let n = 0; n < CHAIN; n++) await commitNext();
  });

  after(async () => {
    client?.close();
    await agent?.kill('SIGKILL');
    await nats.close();
    await rm(root, { recursive: true, force: true });
  });

  /** Merges the round's oldest delta into the full while every retained date is read. */
  async function mergeRound(round: number): Promise<void> {
    const kill = KILL_ROUNDS.has(round);
    const retained = model.dates.slice(round);
    const [full, child] = [retained[0]!, retained[1]!];
    let ended = false;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const record = (date: ModelDate, outcome: ReadOutcome, paused = false): void => void reads.push({ round, killed: kill, paused, date, retiring: date === full, outcome });

    const small = smallWindowParts(agent!.address);
    const paused = retained.flatMap((date) => FORMATS.map((format) => [date, format] as const)).map(([date, format]) => {
      let atHold!: () => void;
      const arrived = new Promise<void>((resolve) => (atHold = resolve));
      const done = readDisk(small.parts, vm, date.backupId, format, () => (atHold(), held)).then((o) => record(date, o, true));
      return { arrived: Promise.race([arrived, done]), done };
    });
    await Promise.all(paused.map((p) => p.arrived));

    const mergeId = publish('merge', child, round);
    publish('verify', full, round);
    const progress = eventOf(mergeId, 'progress', () => ended);
    // Without a lock the merge copies blocks under the paused readers; with one it waits for them
    // (so does a merge redelivered after a kill, and the tasks queued behind it).
    void Promise.race([progress.then(() => delay(30)), delay(300)]).then(release);
    const started = (await eventOf(mergeId, 'started'))!;

    const pairs = retained.slice(1).flatMap((date) => FORMATS.map((format) => [date, format] as const));
    const loops = [0, 1].map(async (offset) => {
      for (let k = offset; !ended; k += 2) {
        const [date, format] = pairs[k % pairs.length]!;
        record(date, await readDisk(client.getDiskParts.bind(client), vm, date.backupId, format));
      }
    });
    const verifying = (async () => {
      for (let k = 0; !ended; k++) await eventOf(publish('verify', retained[1 + (k % (retained.length - 1))]!, round), 'result', () => ended);
    })();

    const end = kill ? await killMidMerge(round, full) : (await eventOf(mergeId, 'result'))!.emittedAtMs;
    ended = true;
    await Promise.all([...loops, verifying, ...paused.map((p) => p.done)]);
    small.close();
    if (kill) await restartAfterKill();
    countOverlap(round, started.emittedAtMs, (await progress)?.emittedAtMs ?? end, end);
  }

  /** SIGKILLs the agent while the merge's state file exists; returns when. */
  async function killMidMerge(round: number, full: ModelDate): Promise<number> {
    const state = join(folder(), `.${full.backupId}.vhd.merge.json`);
    for (const deadline = Date.now() + 30_000; !existsSync(state) && Date.now() < deadline; ) await delay(5);
    await delay(Math.floor(Math.random() * 40));
    await agent!.kill('SIGKILL');
    const at = Date.now();
    for (const t of tasks.values()) if (t.round === round) t.killed = true;
    const names = await readdir(folder());
    if (names.some((n) => n.endsWith('.merge.json') || n.endsWith('.sums.merged'))) stats.killsMidMerge++;
    return at;
  }

  async function restartAfterKill(): Promise<void> {
    client.close();
    await startAgent();
    // "storage agent ready" comes after merge recovery: nothing of the merge may be left.
    const names = await readdir(folder());
    assert.ok(!names.some((n) => n.includes('.merge.') || n.endsWith('.sums.merged')), `after restart: ${names.join(', ')}`);
    if (agent!.logs.some((l) => l.msg === 'interrupted merge finished')) stats.resumedAtStart++;
  }

  /** `from`: the merge task started (maybe waiting for reads); `copy`: its first block copied. */
  function countOverlap(round: number, from: number, copy: number, to: number): void {
    for (const { round: r, killed, outcome: o } of reads) {
      if (r !== round) continue;
      if (o.openedAt !== undefined && o.openedAt < copy && o.endedAt > copy) stats.streamingWhenCopyBegan++;
      if (o.startedAt >= from && o.startedAt <= to) stats.issuedDuringMerge++;
      if (killed && !o.ok) stats.cutByKill++;
    }
    for (const [taskId, t] of tasks) {
      if (t.round !== round || t.kind !== 'verify') continue;
      const s = nats.events.find((e) => e.taskId === taskId && e.body?.$case === 'started');
      if (s && s.emittedAtMs >= from && s.emittedAtMs <= to) stats.verifiesDuringMerge++;
    }
  }

  test(`${ROUNDS} merges, each with GetDisk (both formats) and verify of every retained date, ${KILL_ROUNDS.size} SIGKILLed mid-merge: no wrong bytes`, async (t) => {
    const began = Date.now();
    for (let round = 0; round < ROUNDS; round++) {
      await commitNext();
      await mergeRound(round);
    }
    // Quiet state: every retained date once more, then every task's result (redelivered ones too).
    const retained = model.dates.slice(ROUNDS);
    for (const date of retained) {
      for (const format of FORMATS) {
        const outcome = await readDisk(client.getDiskParts.bind(client), vm, date.backupId, format);
        reads.push({ round: ROUNDS, killed: false, paused: false, date, retiring: false, outcome });
      }
      publish('verify', date, ROUNDS);
    }
    const results = await Promise.all([...tasks.keys()].map(async (id) => [id, (await eventOf(id, 'result'))!.body!.value as TaskResult] as const));

    const wrong = reads.filter((r) => r.outcome.ok && (r.outcome.digest !== expectedDigest(r.date) || r.outcome.inconsistent));
    const failed = reads.filter((r) => !r.outcome.ok && !r.killed && !(r.retiring && /is not on remote/.test(r.outcome.error ?? '')));
    const damage = results.filter(([, r]) => r.output?.$case === 'verify' && !r.output.value.ok);
    const failedTasks = results.filter(([id, r]) => r.status !== TaskStatus.TASK_STATUS_SUCCEEDED && !notFoundAllowed(id, r));
    const waited = agentLogs.flat().filter((l) => l.msg === 'merge waits for reads of the VM').length;
    t.diagnostic(
      `rounds ${ROUNDS}; reads ${reads.length} (${reads.filter((r) => r.outcome.ok).length} completed, ${reads.filter((r) => r.paused).length} opened before their merge); ` +
        `verify tasks ${[...tasks.values()].filter((x) => x.kind === 'verify').length}; merges that waited for reads ${waited}; ${JSON.stringify(stats)}; ` +
        `wrong ${wrong.length} (retired date ${wrong.filter((r) => r.retiring).length}, retained opened before the merge ${wrong.filter((r) => !r.retiring && r.paused).length}, ` +
        `retained opened during it ${wrong.filter((r) => !r.retiring && !r.paused).length}), failed ${failed.length}, verify damage ${damage.length}; ${Date.now() - began} ms`,
    );
    const show = (rs: Judged[]): string =>
      rs.slice(0, 6).map((r) => `round ${r.round} ${r.retiring ? 'retired' : 'retained'} ${r.date.backupId} ${r.outcome.format}${r.paused ? ' (paused)' : ''}: ${r.outcome.inconsistent ?? r.outcome.error ?? 'wrong content'}`).join('\n');
    assert.equal(wrong.length, 0, `reads that returned wrong bytes as success:\n${show(wrong)}`);
    assert.equal(failed.length, 0, `reads that failed without a kill cutting them:\n${show(failed)}`);
    assert.equal(damage.length, 0, `verify reported damage in an intact chain: ${JSON.stringify(damage.slice(0, 3).map(([, r]) => r.output?.value))}`);
    assert.equal(failedTasks.length, 0, `tasks failed: ${JSON.stringify(failedTasks.slice(0, 3).map(([, r]) => r.error))}`);
    assert.equal(stats.killsMidMerge, KILL_ROUNDS.size, `every kill must land while the merge is unfinished: ${JSON.stringify(stats)}`);
    assert.equal(stats.resumedAtStart, KILL_ROUNDS.size, 'every restart finishes the interrupted merge');
    assert.ok(stats.cutByKill >= KILL_ROUNDS.size, `every kill must cut reads in flight: ${JSON.stringify(stats)}`);
    assert.ok(stats.issuedDuringMerge >= ROUNDS * 2, `too few reads were sent while a merge ran: ${JSON.stringify(stats)}`);
  });

  /** NOT_FOUND is right for a date retired meanwhile: the full's verify, a task redelivered after a kill. */
  function notFoundAllowed(taskId: string, result: TaskResult): boolean {
    const task = tasks.get(taskId)!;
    if (result.error?.code !== 'STORAGE_NOT_FOUND') return false;
    return task.killed || (task.kind === 'verify' && task.date.n === task.round);
  }
});
