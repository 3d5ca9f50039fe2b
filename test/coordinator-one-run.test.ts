// One run at a time per policy, end to end: the coordinator (in this process: its gRPC control
// API, dispatcher and event consumer) on Postgres and NATS JetStream, a real storage agent and
// the stand-in host agent (held, so the run stays active). Two `deltachain policy run` processes
// issued at the same moment record exactly one run; the other exits 1 naming it and saying how to
// follow it. Then the same race through the control API of two coordinators on one catalogue: one
// call wins, every other is refused.
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ChannelCredentials } from '@grpc/grpc-js';
import { ControlClient } from '../coordinator/api/control-client.js';
import { Coordinator } from '../coordinator/service/coordinator.js';
import * as catalogue from '../coordinator/catalogue/index.js';
import type * as wire from '../shared/proto/gen/deltachain/control/v1/control.js';
import { createLogger } from '../shared/logging/index.js';
import { runCliAt } from './support/e2e-cli.js';
import { startCoordinatorStack, type CoordinatorStack } from './support/pg-coordinator-stack.js';

const VM = '6a1f0c9e-5a7d-4e55-9c3f-2d1b6a0e9f11';
const settings: wire.PolicySettings = {
  name: 'nightly', selection: { vmUuids: [VM], tags: [], pools: [] }, remotes: ['nas'], cron: '0 3 * * *', timeZone: 'UTC',
  retention: 5, fullInterval: 0, concurrency: 2, enabled: true,
};

async function waitFor<T>(what: string, read: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('one run at a time per policy', { timeout: 120_000 }, () => {
  let stack: CoordinatorStack;
  const runs = () => catalogue.listRuns(stack.db.sql, { policyName: 'nightly' });
  const finished = (runId: string) => waitFor(`run ${runId} to finish`, async () => (await catalogue.getRun(stack.db.sql, runId)).finishedAt !== null);

  before(async () => {
    stack = await startCoordinatorStack('lab');
    await stack.startStorage('nas');
    const client = await stack.startCoordinator(undefined, { inProcess: true });
    await client.addPool({ name: 'lab', site: '', description: '' });
    await client.addRemote({ name: 'nas', address: stack.storage.get('nas')!.address, site: '', location: '', description: '' });
    stack.host.addVm(VM, 'web', ['xvda']);
    await catalogue.upsertVm(stack.db.sql, { uuid: VM, poolName: 'lab', nameLabel: 'web', tags: [], powerState: 'Running', lastSeenAt: new Date() });
    await client.createPolicy({ settings });
  });
  after(() => stack?.close());

  it('two `policy run` at the same moment: one run, the other refused naming it (exit 1)', async () => {
    const release = stack.host.hold();
    const results = await Promise.all([0, 1].map(() => runCliAt(stack.socket, ['policy', 'run', 'nightly'])));
    const [run, ...more] = await runs();
    assert.equal(more.length, 0, 'exactly one run recorded');
    const won = results.filter((r) => r.code === 0);
    const refused = results.filter((r) => r.code !== 0);
    assert.equal(won.length, 1, results.map((r) => `${r.code}: ${r.stderr}`).join('\n'));
    assert.match(won[0]!.stdout, new RegExp(`follow it with: deltachain run watch ${run!.id.slice(0, 8)}`));
    assert.equal(refused[0]!.code, 1);
    assert.match(refused[0]!.stderr, new RegExp(`^deltachain: policy nightly already has a run in progress: run ${run!.id} \\((pending|running) since [^)]+\\); a policy runs one at a time — follow it with \`deltachain run watch ${run!.id}\`\\n$`));
    release();
    await finished(run!.id);
    const { run: again } = await stack.client!.runPolicy({ name: 'nightly', forceFull: false, vmUuids: [] });
    assert.notEqual(again!.run!.id, run!.id, 'once the run finished, the next one starts');
    await finished(again!.run!.id);
  });

  it('two coordinators on one catalogue, several calls at once: one run, every other call refused', async () => {
    const second = new Coordinator(stack.coordinatorConfig(undefined, join(stack.folder, 'second.sock')), { logger: createLogger({ level: 'silent' }) });
    await second.start();
    const clients = [stack.client!, new ControlClient(`unix:${second.apiSocket}`, ChannelCredentials.createInsecure())];
    const release = stack.host.hold();
    try {
      const before = (await runs()).length;
      const calls = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => clients[i % 2]!.runPolicy({ name: 'nightly', forceFull: false, vmUuids: [] })));
      const recorded = await runs();
      assert.equal(recorded.length, before + 1, 'exactly one new run');
      const active = recorded[0]!;
      assert.deepEqual(calls.filter((c) => c.status === 'fulfilled').map((c) => (c as PromiseFulfilledResult<wire.RunPolicyResponse>).value.run!.run!.id), [active.id]);
      for (const call of calls.filter((c) => c.status === 'rejected')) {
        const error = (call as PromiseRejectedResult).reason as { code: string; message: string };
        assert.equal(error.code, 'RUN_IN_PROGRESS');
        assert.match(error.message, new RegExp(`run ${active.id} .*deltachain run watch ${active.id}`));
      }
      release();
      await finished(active.id);
    } finally {
      release();
      clients[1]!.close();
      await second.stop();
    }
  });
});
