// Backpressure end to end: while the storage agent is frozen (SIGSTOP — the slowest disk there
// is), the client stops pulling blocks from its source after a bounded number (its window plus
// what the HTTP/2 windows hold), and resumes when the agent does. The agent's own bound shows in
// `npm run bench:storage` (peak RSS while receiving 4 GiB).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { ChannelCredentials } from '@grpc/grpc-js';
import { StorageClient } from '../shared/grpc/storage-client.js';
import { BLOCK, diskHeader, patternBlock, tempRemoteRoot } from './support/storage-harness.js';
import { startTestNats, type TestNats } from './support/storage-nats.js';
import { startAgentProcess, type AgentProcess } from './support/storage-agent-process.js';

const BLOCKS = 128;
let root: string;
let nats: TestNats;
let agent: AgentProcess;

before(async () => {
  root = await tempRemoteRoot();
  nats = await startTestNats();
  agent = await startAgentProcess({ folder: root, root: join(root, 'remote'), remoteId: `bp-${randomUUID().slice(0, 8)}`, namespace: nats.namespace });
});
after(async () => {
  agent.child.kill('SIGCONT');
  await agent.kill('SIGKILL');
  await nats.close();
  await rm(root, { recursive: true, force: true });
});

test('a frozen storage agent stops the sender after a bounded number of blocks', async (t) => {
  const client = new StorageClient(agent.address, ChannelCredentials.createInsecure());
  let pulled = 0;
  const source = (async function* () {
    for (let index = 0; index < BLOCKS; index++) {
      pulled++;
      yield { index, data: patternBlock(5, index) };
    }
  })();
  try {
    const upload = client.putDisk(diskHeader({ vmUuid: randomUUID(), backupId: 'frozen', virtualSize: BLOCKS * BLOCK }), source);
    while (pulled < 20) await delay(5);
    agent.child.kill('SIGSTOP');
    const atFreeze = pulled;
    await delay(1500);
    const whileFrozen = pulled;
    await delay(1500);
    assert.equal(pulled, whileFrozen, 'the client kept pulling blocks while the agent was frozen');
    t.diagnostic(`blocks pulled: ${atFreeze} when the agent froze, ${whileFrozen} while frozen, of ${BLOCKS}`);
    // client window 4 + server HTTP/2 window 8 MiB (4 blocks) + socket buffers and the agent's
    // read buffer: a handful of blocks, nowhere near the rest of the disk.
    assert.ok(whileFrozen - atFreeze <= 16, `${whileFrozen - atFreeze} more blocks pulled after the agent froze`);
    agent.child.kill('SIGCONT');
    const result = await upload;
    assert.equal(result.blockCount, BLOCKS);
    assert.equal(pulled, BLOCKS);
  } finally {
    agent.child.kill('SIGCONT');
    client.close();
  }
});
