import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { status } from '@grpc/grpc-js';
import { GrantAction, encodeSignedGrant, signGrant, type Grant } from '../../shared/grants/index.js';
import { parseIdentityText } from '../../shared/identity/index.js';
import { generateSigningKeyPair, signerFromPem } from '../../shared/signing/index.js';
import { GrantGuard, type CallFacts } from './call-guard.js';
import { StorageAccessError } from './errors.js';

const coordinator = signerFromPem(generateSigningKeyPair().privatePem, 'coordinator');
const now = new Date('2026-12-04T12:00:00Z');
const VM = '0b2f1c9e-5a7d-4e55-9c3f-2d1b6a0e9f10';
const guard = new GrantGuard('nas', coordinator.publicKey, () => now);
const write: Grant = { action: GrantAction.GRANT_ACTION_WRITE, remoteId: 'nas', vmUuid: VM, backupId: 'b1', diskKeys: [], holder: 'host:lab', expiresAtMs: now.getTime() + 60_000, taskId: 't1' };
const read: Grant = { ...write, action: GrantAction.GRANT_ACTION_READ, diskKeys: ['xvda'], taskId: 't2' };
const wire = (grant: Grant): Buffer => encodeSignedGrant(signGrant(coordinator, grant));
const facts = (rpc: CallFacts['rpc'], caller: string, request: Record<string, unknown>, grant?: Grant): CallFacts => ({ rpc, caller: parseIdentityText(caller), request, grant: grant && wire(grant) });

function refused(f: CallFacts, code: status, pattern: RegExp): void {
  assert.throws(() => guard.admit(f), (e: unknown) => e instanceof StorageAccessError && e.grpcStatus === code && pattern.test(e.message));
}

describe('the grant guard', () => {
  test('a write grant admits the backup’s upload, commit and discard, and its VM’s reads', () => {
    assert.deepEqual(guard.admit(facts('PutDisk', 'host:lab', { vmUuid: VM, backupId: 'b1', diskKey: 'xvda' }, write)), { caller: 'host:lab', taskId: 't1' });
    assert.ok(guard.admit(facts('CommitBackup', 'host:lab', { vmUuid: VM, backupId: 'b1', diskKeys: ['xvda', 'xvdb'] }, write)));
    assert.ok(guard.admit(facts('DiscardBackup', 'host:lab', { vmUuid: VM, backupId: 'b1' }, write)));
    assert.ok(guard.admit(facts('ListBackups', 'host:lab', { vmUuid: VM }, write)));
    assert.ok(guard.admit(facts('HasBase', 'host:lab', { vmUuid: VM, footerUuid: 'f' }, write)));
    assert.ok(guard.admit(facts('GetBackup', 'host:lab', { vmUuid: VM, backupId: 'older' }, write)));
  });

  test('a read grant admits its backup’s metadata and named disks only', () => {
    assert.deepEqual(guard.admit(facts('GetDisk', 'host:lab', { vmUuid: VM, backupId: 'b1', diskKey: 'xvda' }, read)), { caller: 'host:lab', taskId: 't2' });
    assert.ok(guard.admit(facts('GetBackup', 'host:lab', { vmUuid: VM, backupId: 'b1' }, read)));
    refused(facts('GetDisk', 'host:lab', { vmUuid: VM, backupId: 'b1', diskKey: 'xvdb' }, read), status.PERMISSION_DENIED, /does not cover disk xvdb/);
    refused(facts('GetBackup', 'host:lab', { vmUuid: VM, backupId: 'b0' }, read), status.PERMISSION_DENIED, /for backup b1, not b0/);
    refused(facts('PutDisk', 'host:lab', { vmUuid: VM, backupId: 'b1', diskKey: 'xvda' }, read), status.PERMISSION_DENIED, /allows GRANT_ACTION_READ, this call needs GRANT_ACTION_WRITE/);
    refused(facts('ListBackups', 'host:lab', { vmUuid: VM }, read), status.PERMISSION_DENIED, /allows GRANT_ACTION_READ/);
  });

  test('a write grant does not reach past its backup, VM, disks, remote, holder or time', () => {
    refused(facts('PutDisk', 'host:lab', { vmUuid: VM, backupId: 'b2', diskKey: 'xvda' }, write), status.PERMISSION_DENIED, /PutDisk refused for host:lab: grant of task t1 refused: it is for backup b1, not b2/);
    refused(facts('GetDisk', 'host:lab', { vmUuid: VM, backupId: 'b1', diskKey: 'xvda' }, write), status.PERMISSION_DENIED, /allows GRANT_ACTION_WRITE, this call needs GRANT_ACTION_READ/);
    refused(facts('CommitBackup', 'host:lab', { vmUuid: VM, backupId: 'b1', diskKeys: ['xvda', 'xvdc'] }, { ...write, diskKeys: ['xvda'] }), status.PERMISSION_DENIED, /does not cover disk xvdc/);
    refused(facts('ListBackups', 'host:lab', { vmUuid: '11111111-1111-4111-8111-111111111111' }, write), status.PERMISSION_DENIED, /for VM/);
    refused(facts('PutDisk', 'host:other', { vmUuid: VM, backupId: 'b1', diskKey: 'xvda' }, write), status.PERMISSION_DENIED, /issued to host:lab, not to host:other/);
    refused(facts('PutDisk', 'host:lab', { vmUuid: VM, backupId: 'b1', diskKey: 'xvda' }, { ...write, remoteId: 'offsite' }), status.PERMISSION_DENIED, /for remote offsite, not nas/);
    refused(facts('PutDisk', 'host:lab', { vmUuid: VM, backupId: 'b1', diskKey: 'xvda' }, { ...write, expiresAtMs: now.getTime() - 1 }), status.PERMISSION_DENIED, /expired/);
    refused(facts('PutDisk', 'host:lab', { vmUuid: VM, backupId: 'b1', diskKey: 'xvda' }), status.PERMISSION_DENIED, /carries no grant/);
  });

  test('roles come before grants: the wrong role or no identity is refused whatever it sends', () => {
    refused(facts('PutDisk', 'operator:alice', { vmUuid: VM, backupId: 'b1', diskKey: 'xvda' }, { ...write, holder: 'operator:alice' }), status.PERMISSION_DENIED, /operator:alice may not call it/);
    refused({ rpc: 'PutDisk', caller: undefined, request: { vmUuid: VM, backupId: 'b1', diskKey: 'xvda' }, grant: wire(write) }, status.UNAUTHENTICATED, /no certificate with a Deltachain identity/);
    assert.deepEqual(guard.admit(facts('Stat', 'coordinator', {})), { caller: 'coordinator' });
    assert.ok(guard.admit(facts('ListBackups', 'coordinator', { vmUuid: '' })));
  });
});
