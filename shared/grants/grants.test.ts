import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Grant, GrantAction } from '../proto/gen/deltachain/storage/v1/grant.js';
import { generateSigningKeyPair, signerFromPem } from '../signing/index.js';
import { checkGrant, encodeSignedGrant, GrantRefusedError, signGrant, type GrantNeed } from './grants.js';

const coordinator = signerFromPem(generateSigningKeyPair().privatePem, 'coordinator');
const impostor = signerFromPem(generateSigningKeyPair().privatePem, 'impostor');
const now = new Date('2026-12-04T12:00:00Z');
const grant: Grant = {
  action: GrantAction.GRANT_ACTION_WRITE,
  remoteId: 'nas',
  vmUuid: '0b2f1c9e-5a7d-4e55-9c3f-2d1b6a0e9f10',
  backupId: '20261204T120000Z-aa',
  diskKeys: ['xvda'],
  holder: 'host:lab',
  expiresAtMs: now.getTime() + 60_000,
  taskId: 't1',
};
const need: GrantNeed = { action: GrantAction.GRANT_ACTION_WRITE, remoteId: 'nas', holder: 'host:lab', vmUuid: grant.vmUuid, backupId: grant.backupId, diskKey: 'xvda' };
const wire = (g: Grant, signer = coordinator) => encodeSignedGrant(signGrant(signer, g));

describe('grants', () => {
  test('a grant allows exactly what it names', () => {
    assert.deepEqual(checkGrant(coordinator.publicKey, wire(grant), need, now), grant);
    assert.ok(checkGrant(coordinator.publicKey, wire(grant), { ...need, backupId: undefined, diskKey: undefined }, now));
    assert.ok(checkGrant(coordinator.publicKey, wire({ ...grant, diskKeys: [] }), { ...need, diskKey: 'xvdb' }, now));
  });

  test('every mismatch, a forged or damaged signature, an expired grant and garbage are refused', () => {
    const refused = (raw: Buffer | undefined, n: GrantNeed, pattern: RegExp) =>
      assert.throws(() => checkGrant(coordinator.publicKey, raw, n, now), (e: unknown) => e instanceof GrantRefusedError && pattern.test(e.message));
    refused(undefined, need, /carries no grant/);
    refused(wire(grant, impostor), need, /not signed by the coordinator/);
    const damaged = wire(grant);
    damaged[damaged.length - 1]! ^= 1;
    refused(damaged, need, /not signed by the coordinator/);
    refused(Buffer.from('garbage that is not a grant'), need, /cannot be decoded|not signed/);
    refused(Buffer.alloc(20_000), need, /more than/);
    refused(wire({ ...grant, expiresAtMs: now.getTime() }), need, /expired/);
    refused(wire(grant), { ...need, holder: 'host:other' }, /issued to host:lab, not to host:other/);
    refused(wire(grant), { ...need, remoteId: 'offsite' }, /for remote nas, not offsite/);
    refused(wire(grant), { ...need, action: GrantAction.GRANT_ACTION_READ }, /allows GRANT_ACTION_WRITE/);
    refused(wire(grant), { ...need, vmUuid: '11111111-1111-4111-8111-111111111111' }, /for VM/);
    refused(wire(grant), { ...need, backupId: 'other' }, /for backup/);
    refused(wire(grant), { ...need, diskKey: 'xvdb' }, /does not cover disk xvdb/);
  });
});
