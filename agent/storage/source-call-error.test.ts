import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Metadata, status } from '@grpc/grpc-js';
import { SourceCallError, classifySourceFailure } from './source-call-error.js';

test('a source failure is retryable when the source is away or busy, or a block was damaged in transit', () => {
  const cases: [number, string | undefined, string, boolean, string][] = [
    [status.UNAVAILABLE, undefined, 'No connection established. Last error: connect ECONNREFUSED 127.0.0.1:1', true, 'storage'],
    [status.UNAVAILABLE, undefined, 'No connection established. Last error: connect EHOSTUNREACH 10.0.0.9:50051', true, 'network'],
    [status.ABORTED, 'STORAGE_CHAIN_CHANGED', 'a merge changed the chain; read the disk again', true, 'storage'],
    [status.RESOURCE_EXHAUSTED, 'STORAGE_LIMIT', 'the client read nothing for 120 s', true, 'storage'],
    [status.DATA_LOSS, 'STORAGE_CHECKSUM_MISMATCH', 'block damaged in transit', true, 'network'],
    [status.DATA_LOSS, 'DATA_DAMAGED', 'block 3 does not match the checksum stored at commit', false, 'data'],
    [status.PERMISSION_DENIED, 'STORAGE_ACCESS_DENIED', 'GetDisk refused for storage:dst', false, 'request'],
    [status.NOT_FOUND, 'STORAGE_NOT_FOUND', 'backup b is not on remote src', false, 'request'],
    [status.INTERNAL, undefined, 'storage agent error: boom', false, 'storage'],
  ];
  for (const [code, serverCode, detail, retryable, side] of cases) {
    assert.deepEqual(classifySourceFailure(code, serverCode, detail), { retryable, side }, `${status[code]} ${serverCode ?? ''}`);
  }
});

test("keeps the source's error code and names the source remote", () => {
  const metadata = new Metadata();
  metadata.set('deltachain-error-code', 'DATA_DAMAGED');
  const error = SourceCallError.from('src', 'GetDisk', { code: status.DATA_LOSS, details: 'file x block 3 is damaged', metadata });
  assert.deepEqual([error.code, error.retryable, error.side], ['DATA_DAMAGED', false, 'data']);
  assert.equal(error.message, 'storage agent of source remote src: GetDisk failed: DATA_LOSS: file x block 3 is damaged');
  const away = SourceCallError.from('src', 'GetBackup', { code: status.UNAVAILABLE, details: 'No connection established. Resolution note: ' });
  assert.deepEqual([away.code, away.retryable, away.message], ['SOURCE_CALL_FAILED', true, 'storage agent of source remote src: GetBackup failed: UNAVAILABLE: No connection established.']);
});
