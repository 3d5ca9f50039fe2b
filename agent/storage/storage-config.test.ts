import assert from 'node:assert/strict';
import { test } from 'node:test';
import { storageAgentConfigSchema } from './storage-config.js';

const config = (storage: object) => ({ role: 'storage', agentId: 'a', storage: { remoteId: 'r', root: '/r', tls: { insecure: true }, ...storage }, trust: { insecure: true } });

test('chainTermCacheMiB: 64 by default, an operator with large disks may raise it, nonsense is refused naming the field', () => {
  assert.equal(storageAgentConfigSchema.parse(config({})).storage.chainTermCacheMiB, 64);
  assert.equal(storageAgentConfigSchema.parse(config({ chainTermCacheMiB: 512 })).storage.chainTermCacheMiB, 512);
  for (const bad of [0, 5000, 1.5, '64']) {
    const parsed = storageAgentConfigSchema.safeParse(config({ chainTermCacheMiB: bad }));
    assert.equal(parsed.success, false, String(bad));
    assert.deepEqual(parsed.error!.issues[0]!.path, ['storage', 'chainTermCacheMiB']);
  }
});

test('restoreReadAheadBlocks: absent by default (GetDisk reads GET_DISK_READ_AHEAD ahead), an operator may raise it, nonsense is refused naming the field', () => {
  assert.equal(storageAgentConfigSchema.parse(config({})).storage.restoreReadAheadBlocks, undefined);
  assert.equal(storageAgentConfigSchema.parse(config({ restoreReadAheadBlocks: 16 })).storage.restoreReadAheadBlocks, 16);
  for (const bad of [0, 65, 2.5, '8']) {
    const parsed = storageAgentConfigSchema.safeParse(config({ restoreReadAheadBlocks: bad }));
    assert.equal(parsed.success, false, String(bad));
    assert.deepEqual(parsed.error!.issues[0]!.path, ['storage', 'restoreReadAheadBlocks']);
  }
});
