import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GrantAction } from '../../shared/grants/index.js';
import { parseIdentityText, type Identity } from '../../shared/identity/index.js';
import { CALL_POLICY, STORAGE_RPCS, callRule, scopeOf, type CallScope, type StorageRpc } from './call-policy.js';

const VM = '0b2f1c9e-5a7d-4e55-9c3f-2d1b6a0e9f10';
const W = GrantAction.GRANT_ACTION_WRITE;
const R = GrantAction.GRANT_ACTION_READ;
const who = (text: string): Identity | undefined => (text === 'none' ? undefined : parseIdentityText(text));

// "serve" | "refuse:<status>" | grant requirements as "<action> <vm> <backup|*> <disks>" joined by " or ".
const TABLE: Array<[StorageRpc, string, CallScope, string]> = [
  ['PutDisk', 'host:lab', { vmUuid: VM, backupId: 'b1', diskKeys: ['xvda'] }, `W ${VM} b1 xvda`],
  ['PutDisk', 'coordinator', { vmUuid: VM, backupId: 'b1', diskKeys: ['xvda'] }, 'refuse:permission-denied'],
  ['PutDisk', 'storage:nas', { vmUuid: VM, backupId: 'b1', diskKeys: ['xvda'] }, 'refuse:permission-denied'],
  ['PutDisk', 'operator:alice', { vmUuid: VM, backupId: 'b1', diskKeys: ['xvda'] }, 'refuse:permission-denied'],
  ['PutDisk', 'viewer:bob', { vmUuid: VM, backupId: 'b1', diskKeys: ['xvda'] }, 'refuse:permission-denied'],
  ['PutDisk', 'none', { vmUuid: VM, backupId: 'b1', diskKeys: ['xvda'] }, 'refuse:unauthenticated'],
  ['PutDisk', 'host:lab', {}, 'refuse:permission-denied'],
  ['CommitBackup', 'host:lab', { vmUuid: VM, backupId: 'b1', diskKeys: ['xvda', 'xvdb'] }, `W ${VM} b1 xvda,xvdb`],
  ['CommitBackup', 'operator:alice', { vmUuid: VM, backupId: 'b1', diskKeys: ['xvda'] }, 'refuse:permission-denied'],
  ['DiscardBackup', 'host:lab', { vmUuid: VM, backupId: 'b1' }, `W ${VM} b1 -`],
  ['DiscardBackup', 'coordinator', { vmUuid: VM, backupId: 'b1' }, 'refuse:permission-denied'],
  ['GetDisk', 'host:lab', { vmUuid: VM, backupId: 'b1', diskKeys: ['xvda'] }, `R ${VM} b1 xvda`],
  ['GetDisk', 'storage:offsite', { vmUuid: VM, backupId: 'b1', diskKeys: ['xvda'] }, `R ${VM} b1 xvda`],
  ['GetDisk', 'coordinator', { vmUuid: VM, backupId: 'b1', diskKeys: ['xvda'] }, 'refuse:permission-denied'],
  ['GetDisk', 'operator:alice', { vmUuid: VM, backupId: 'b1', diskKeys: ['xvda'] }, 'refuse:permission-denied'],
  ['GetBackup', 'coordinator', { vmUuid: VM, backupId: 'b1' }, 'serve'],
  ['GetBackup', 'host:lab', { vmUuid: VM, backupId: 'b1' }, `R ${VM} b1 - or W ${VM} * -`],
  ['GetBackup', 'storage:offsite', { vmUuid: VM, backupId: 'b1' }, `R ${VM} b1 -`],
  ['GetBackup', 'viewer:bob', { vmUuid: VM, backupId: 'b1' }, 'refuse:permission-denied'],
  ['HasBase', 'host:lab', { vmUuid: VM }, `W ${VM} * -`],
  ['HasBase', 'coordinator', { vmUuid: VM }, 'refuse:permission-denied'],
  ['ListBackups', 'coordinator', { vmUuid: '' }, 'serve'],
  ['ListBackups', 'coordinator', { vmUuid: VM }, 'serve'],
  ['ListBackups', 'host:lab', { vmUuid: VM }, `W ${VM} * -`],
  ['ListBackups', 'host:lab', { vmUuid: '' }, 'refuse:permission-denied'],
  ['ListBackups', 'storage:nas', { vmUuid: VM }, 'refuse:permission-denied'],
  ['ListBackups', 'operator:alice', { vmUuid: '' }, 'refuse:permission-denied'],
  ['Stat', 'coordinator', {}, 'serve'],
  ['Stat', 'host:lab', {}, 'refuse:permission-denied'],
  ['Stat', 'operator:alice', {}, 'refuse:permission-denied'],
  ['Stat', 'none', {}, 'refuse:unauthenticated'],
];

function show(rpc: StorageRpc, caller: string, scope: CallScope): string {
  const rule = callRule(rpc, who(caller), scope);
  if (rule.outcome === 'serve') return 'serve';
  if (rule.outcome === 'refuse') return `refuse:${rule.status}`;
  assert.equal(rule.holder, caller, 'the grant must be held by the caller');
  return rule.anyOf.map((r) => `${r.action === W ? 'W' : r.action === R ? 'R' : '?'} ${r.vmUuid} ${r.backupId ?? '*'} ${r.diskKeys.join(',') || '-'}`).join(' or ');
}

describe('the data plane call policy', () => {
  for (const [rpc, caller, scope, expected] of TABLE) {
    test(`${rpc} by ${caller}${scope.vmUuid === '' ? ' (every VM)' : ''}: ${expected}`, () => assert.equal(show(rpc, caller, scope), expected));
  }

  test('every RPC has a row, and no role but the coordinator is served by its role alone', () => {
    assert.deepEqual(Object.keys(CALL_POLICY).sort(), [...STORAGE_RPCS].sort());
    for (const rpc of STORAGE_RPCS) {
      for (const [role, need] of Object.entries(CALL_POLICY[rpc])) if (need === 'role') assert.equal(role, 'coordinator', rpc);
      assert.equal(CALL_POLICY[rpc].operator, undefined, rpc);
      assert.equal(CALL_POLICY[rpc].viewer, undefined, rpc);
    }
  });

  test('a refusal says what was missing', () => {
    const denied = callRule('PutDisk', who('operator:alice'), { vmUuid: VM, backupId: 'b1', diskKeys: ['xvda'] });
    assert.equal(denied.outcome, 'refuse');
    assert.match((denied as { reason: string }).reason, /PutDisk refused: operator:alice may not call it; only a host agent with the coordinator's write grant for the backup may/);
    const stat = callRule('Stat', who('host:lab'), {});
    assert.match((stat as { reason: string }).reason, /only the coordinator by its role may/);
    const anonymous = callRule('GetDisk', undefined, {});
    assert.match((anonymous as { reason: string }).reason, /no certificate with a Deltachain identity/);
  });

  test('the scope of each request is what it names', () => {
    assert.deepEqual(scopeOf('PutDisk', { vmUuid: VM, backupId: 'b1', diskKey: 'xvda', virtualSize: 1 }), { vmUuid: VM, backupId: 'b1', diskKeys: ['xvda'] });
    assert.deepEqual(scopeOf('CommitBackup', { vmUuid: VM, backupId: 'b1', diskKeys: ['a', 'b'] }), { vmUuid: VM, backupId: 'b1', diskKeys: ['a', 'b'] });
    assert.deepEqual(scopeOf('ListBackups', { vmUuid: '' }), { vmUuid: '' });
    assert.deepEqual(scopeOf('HasBase', { vmUuid: VM, footerUuid: 'f' }), { vmUuid: VM });
    assert.deepEqual(scopeOf('PutDisk', undefined), { vmUuid: '', backupId: '', diskKeys: [''] });
    assert.deepEqual(scopeOf('Stat', {}), {});
  });
});
