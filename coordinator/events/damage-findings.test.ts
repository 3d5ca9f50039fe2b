import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TaskOutput } from './agent-event.js';
import { restoreFinding, verifyFindings } from './damage-findings.js';

type Verify = Extract<TaskOutput, { kind: 'verify' }>;
const verify = (o: Partial<Verify>): Verify => ({ kind: 'verify', ok: false, blocksChecked: 1, badBlocks: 0, problems: [], badBlockList: [], damaged: [], ...o });

describe('verifyFindings', () => {
  it('takes the damaged backups the storage agent names', () => {
    const damaged = [{ backupId: 'b2', diskKey: 'd', file: 'f', blocks: [1], reason: 'r' }];
    assert.deepEqual(verifyFindings('b1', verify({ damaged })), damaged);
  });
  it('finds nothing in a verification that passed', () => {
    assert.deepEqual(verifyFindings('b1', verify({ ok: true })), []);
  });
  it('otherwise marks the verified backup: bad blocks by disk and file, problems by the disk they name', () => {
    const found = verifyFindings('b1', verify({
      badBlockList: [{ diskKey: 'a', path: 'p1', index: 3, reason: 'checksum mismatch' }, { diskKey: 'a', path: 'p1', index: 9, reason: 'checksum mismatch' }, { diskKey: 'a', path: 'p0', index: 1, reason: 'block missing' }],
      problems: ['disk b: the chain of x does not reach a full disk', 'vms/v/disks/c/n.vhd: bad footer', 'something else'],
    }));
    assert.deepEqual(found.map((f) => [f.backupId, f.diskKey, f.file, f.blocks]), [
      ['b1', 'a', 'p1', [3, 9]], ['b1', 'a', 'p0', [1]], ['b1', 'b', '', []], ['b1', 'c', '', []], ['b1', '', '', []],
    ]);
  });
  it('a failed verification that says nothing still marks the backup', () => {
    assert.deepEqual(verifyFindings('b1', verify({})).map((f) => [f.backupId, f.diskKey]), [['b1', '']]);
  });
});

describe('restoreFinding', () => {
  const message = 'backup b1 of VM v on remote nas, disk 0f1e: the data read from the remote does not match';
  it('a data failure marks the disk its message names', () => {
    assert.deepEqual(restoreFinding('b1', { code: 'RESTORE_DIGEST_MISMATCH', message, retryable: false }, ['0f1e', '99aa']), { backupId: 'b1', diskKey: '0f1e', file: '', blocks: [], reason: `restore failed: RESTORE_DIGEST_MISMATCH: ${message}` });
  });
  it('a disk the backup does not have, or none named: every disk', () => {
    assert.equal(restoreFinding('b1', { code: 'DATA_DAMAGED', message, retryable: false }, ['99aa'])?.diskKey, '');
    assert.equal(restoreFinding('b1', { code: 'DATA_DAMAGED', message: 'damaged', retryable: false }, ['99aa'])?.diskKey, '');
  });
  it('any other failure is not about the data', () => {
    assert.equal(restoreFinding('b1', { code: 'STORAGE_CALL_FAILED', message, retryable: true }, ['0f1e']), undefined);
    assert.equal(restoreFinding('b1', { code: 'SR_NOT_FOUND', message, retryable: false }, ['0f1e']), undefined);
  });
});
