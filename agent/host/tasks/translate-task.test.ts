import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RestoreTask } from '../../../shared/proto/gen/deltachain/tasks/v1/host_tasks.js';
import { restoreRequestFrom } from './translate-task.js';
import type { RemoteStorages } from './remote-storages.js';

const storage = { remoteId: 'nas', withGrant: () => storage };
const storages = { get: () => storage } as unknown as RemoteStorages;
const task = (expectedChainDigests: Record<string, Uint8Array>): RestoreTask => ({
  vmUuid: '11111111-1111-4111-8111-111111111111', backupId: 'b1', remoteId: 'nas', storageAddress: '127.0.0.1:7000',
  srUuid: '22222222-2222-4222-8222-222222222222', expectedChainDigests,
});

describe('restoreRequestFrom', () => {
  it('carries the expected chain digests by disk', () => {
    const digest = Buffer.alloc(32, 7);
    const request = restoreRequestFrom('t1', task({ xvda: digest }), storages);
    assert.deepEqual([...request.expectedChainDigests!.entries()], [['xvda', digest]]);
    assert.equal(request.keepBootConfig, false, 'boot config dropped unless the task says keep_boot_config');
    assert.equal(restoreRequestFrom('t1', { ...task({}), keepBootConfig: true }, storages).keepBootConfig, true);
  });
  it('refuses a digest that is not 32 bytes, naming the disk', () => {
    assert.throws(() => restoreRequestFrom('t1', task({ xvdb: Buffer.alloc(31) }), storages), /task t1: the expected chain digest of disk "xvdb" has 31 bytes, not 32/);
  });
});
