import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Metadata, status } from '@grpc/grpc-js';
import { ExportInterruptedError } from '../backup/export-interrupted-error.js';
import { nextStep } from '../backup/transfer-disk.js';
import { classifyStorageFailure } from './classify-storage-error.js';
import { StorageCallError } from './storage-call-error.js';

describe('classifyStorageFailure', () => {
  const cases: Array<[string, number, string | undefined, string, string, boolean, string]> = [
    ['a storage agent that is down', status.UNAVAILABLE, undefined, 'PutDisk', 'No connection established. Last error: connect ECONNREFUSED 127.0.0.1:50051', true, 'storage'],
    ['an unreachable host', status.UNAVAILABLE, undefined, 'Stat', 'No connection established. Last error: connect EHOSTUNREACH 10.0.0.9:50051', true, 'network'],
    ['a deadline', status.DEADLINE_EXCEEDED, undefined, 'CommitBackup', 'no answer within 60000 ms', true, 'storage'],
    ['a full remote', status.RESOURCE_EXHAUSTED, 'REMOTE_FULL', 'PutDisk', 'remote nas is full (0 bytes free of 8)', false, 'remote-full'],
    ['a block damaged on the way', status.DATA_LOSS, 'STORAGE_CHECKSUM_MISMATCH', 'PutDisk', 'block 3: checksum mismatch', true, 'network'],
    ['damaged data on the remote', status.DATA_LOSS, undefined, 'GetDisk', 'block 3 does not match its checksum', false, 'data'],
    ['a refused request', status.FAILED_PRECONDITION, 'STORAGE_CONFLICT', 'PutDisk', 'backup is already committed', false, 'request'],
    ['a refused grant', status.PERMISSION_DENIED, 'STORAGE_ACCESS_DENIED', 'PutDisk', 'PutDisk refused for host:lab: grant of task t refused: it expired', false, 'request'],
    ['a certificate without an identity', status.UNAUTHENTICATED, 'STORAGE_ACCESS_DENIED', 'ListBackups', 'ListBackups refused: the caller showed no certificate with a Deltachain identity', false, 'request'],
    ['a storage agent bug', status.INTERNAL, undefined, 'PutDisk', 'storage agent error: boom', false, 'storage'],
  ];
  for (const [name, code, serverCode, rpc, detail, retryable, side] of cases) {
    it(name, () => {
      const verdict = classifyStorageFailure(code, serverCode, rpc, detail);
      assert.equal(verdict.retryable, retryable);
      assert.equal(verdict.side, side);
    });
  }

  it('keeps REMOTE_FULL as the code and the storage agent message without advice of its own', () => {
    const metadata = new Metadata();
    metadata.set('deltachain-error-code', 'REMOTE_FULL');
    const error = StorageCallError.from('nas', 'PutDisk', { code: status.RESOURCE_EXHAUSTED, details: 'remote nas is full (12 bytes free of 4096 at /srv): PutDisk could not write; free space on the remote', metadata });
    assert.equal(error.code, 'REMOTE_FULL');
    assert.equal(error.side, 'remote-full');
    assert.equal(error.retryable, false);
    assert.equal(error.message, 'storage agent of remote nas: PutDisk failed: RESOURCE_EXHAUSTED: remote nas is full (12 bytes free of 4096 at /srv): PutDisk could not write; free space on the remote');
  });
});

describe('nextStep after a failed disk transfer', () => {
  it('sends again after a broken export, waits for a storage agent that went away, gives up otherwise', () => {
    assert.equal(nextStep(new ExportInterruptedError('v', 'k', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), undefined, '1 of 2 blocks')), 'send-again');
    assert.equal(nextStep(new StorageCallError('nas', 'PutDisk', status.UNAVAILABLE, 'Connection dropped')), 'wait-for-storage');
    assert.equal(nextStep(new StorageCallError('nas', 'PutDisk', status.DATA_LOSS, 'checksum mismatch')), 'send-again');
    assert.equal(nextStep(new StorageCallError('nas', 'PutDisk', status.INVALID_ARGUMENT, 'bad header')), 'give-up');
    assert.equal(nextStep(new StorageCallError('nas', 'CommitBackup', status.UNAVAILABLE, 'Connection dropped')), 'give-up');
    assert.equal(nextStep(new Error('anything else')), 'give-up');
  });

  it('names the network for a reset export and the pool for a short one', () => {
    const reset = new ExportInterruptedError('v', 'k', Object.assign(new Error('aborted'), { cause: Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }) }), undefined, '1 of 2 blocks');
    assert.equal(reset.side, 'network');
    assert.equal(new ExportInterruptedError('v', 'k', new Error('the VHD stream ended early'), undefined, '1 of 2 blocks').side, 'pool');
  });
});
