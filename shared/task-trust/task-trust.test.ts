import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Task, TaskKind } from '../proto/gen/deltachain/tasks/v1/task.js';
import { generateSigningKeyPair, signerFromPem, type Signer } from '../signing/index.js';
import { TaskRefusedError, TaskTrust, signTask, type RefusalReason, type TaskMessage } from './index.js';

const coordinator = signerFromPem(generateSigningKeyPair().privatePem, 'coordinator');
const stranger = signerFromPem(generateSigningKeyPair().privatePem, 'stranger');
const NOW = 1_700_000_000_000;
const HOUR = 3_600_000;

function encoded(o: { id?: string; attempt?: number; remote?: string; expiresAtMs?: number; term?: number } = {}): Uint8Array {
  return Task.encode({
    taskId: o.id ?? 't1', kind: TaskKind.TASK_KIND_DELETE, target: { agent: { $case: 'remoteId', value: o.remote ?? 'nas' } }, attempt: o.attempt ?? 1,
    createdAtMs: NOW, deadlineMs: 0, expiresAtMs: o.expiresAtMs ?? NOW + HOUR, signedAtMs: NOW, runId: '', leaderTerm: o.term ?? 0, payload: { $case: 'delete', value: { vmUuid: 'v', backupId: 'b' } },
  }).finish();
}

const message = (data: Uint8Array, sequence: number, signer: Signer | null = coordinator): TaskMessage => ({ data, signature: signer === null ? undefined : signTask(signer, data), sequence });

function refused(trust: TaskTrust, m: TaskMessage, reason: RefusalReason): void {
  assert.throws(() => trust.check(m), (e: unknown) => e instanceof TaskRefusedError && e.reason === reason, reason);
}

describe('task trust (agents’ check of every task message)', () => {
  let clock = NOW;
  const trust = (o: { maxRemembered?: number; insecure?: boolean } = {}) =>
    new TaskTrust({ coordinatorKey: o.insecure ? undefined : coordinator.publicKey, role: 'storage', scope: 'nas', now: () => clock, ...(o.maxRemembered === undefined ? {} : { maxRemembered: o.maxRemembered }) });

  it('takes a signed task once; a redelivery of the same message is taken again, another message with it is a replay', () => {
    clock = NOW;
    const t = trust();
    const data = encoded();
    assert.equal(t.check(message(data, 7)).taskId, 't1');
    assert.equal(t.check(message(data, 7)).taskId, 't1', 'redelivery (same stream sequence)');
    refused(t, message(data, 8), 'replayed');
    assert.equal(t.check(message(encoded({ attempt: 2 }), 9)).attempt, 2, 'a retry is a new attempt');
  });

  it("refuses a task of an older coordinator lease term than one it took (a deposed coordinator's), but takes its redelivery", () => {
    clock = NOW;
    for (const t of [trust(), trust({ insecure: true })]) {
      const old = encoded({ id: 'old', term: 3 });
      assert.equal(t.check(message(old, 1)).taskId, 'old');
      assert.equal(t.term, 3);
      assert.equal(t.check(message(encoded({ id: 'new', term: 4 }), 2)).taskId, 'new');
      assert.equal(t.term, 4, 'a task taken raises the term');
      assert.equal(t.check(message(old, 1)).taskId, 'old', 'a redelivery of a message taken before is taken again');
      let caught: unknown;
      try {
        t.check(message(encoded({ id: 'late', attempt: 2, term: 3 }), 3));
      } catch (error) {
        caught = error;
      }
      assert.ok(caught instanceof TaskRefusedError && caught.reason === 'deposed', String(caught));
      assert.equal(caught.claimedTaskId, 'late');
      assert.equal(caught.claimedAttempt, 2);
      assert.equal(caught.claimedTerm, 3);
      assert.equal(t.check(message(encoded({ id: 'same', term: 4 }), 4)).taskId, 'same', 'the current term is taken');
      assert.equal(t.check(message(encoded({ id: 'none', term: 0 }), 5)).taskId, 'none', 'no term (an older coordinator) is not fenced');
    }
    // A term is only learnt from a task that passed every other check.
    const t = trust();
    refused(t, message(encoded({ id: 'forged', term: 99 }), 1, stranger), 'bad-signature');
    assert.equal(t.term, 0);
  });

  it('refuses unsigned, foreign-signed, altered, and bytes signed without the task domain', () => {
    clock = NOW;
    const t = trust();
    const data = encoded();
    refused(t, message(data, 1, null), 'unsigned');
    refused(t, { data, signature: '', sequence: 1 }, 'unsigned');
    refused(t, message(data, 1, stranger), 'bad-signature');
    const altered = Buffer.from(data);
    altered[altered.length - 1]! ^= 1;
    refused(t, { data: altered, signature: signTask(coordinator, data), sequence: 1 }, 'bad-signature');
    refused(t, { data, signature: coordinator.sign(data).toString('base64'), sequence: 1 }, 'bad-signature');
    refused(t, { data, signature: 'A'.repeat(100_000), sequence: 1 }, 'bad-signature');
    refused(t, { data: Buffer.from([0xff, 0xff, 0xff]), signature: undefined, sequence: 1 }, 'malformed');
    assert.equal(t.check(message(data, 2)).taskId, 't1', 'nothing refused was remembered: the real one is still taken');
  });

  it('refuses a task for another agent, without expiry, or expired', () => {
    clock = NOW;
    const t = trust();
    refused(t, message(encoded({ remote: 'other' }), 1), 'other-agent');
    refused(t, message(encoded({ expiresAtMs: 0 }), 2), 'no-expiry');
    clock = NOW + HOUR;
    refused(t, message(encoded(), 3), 'expired');
  });

  it('remembers at most maxRemembered tasks, dropping expired ones first', () => {
    clock = NOW;
    const t = trust({ maxRemembered: 2 });
    t.check(message(encoded({ id: 'a', expiresAtMs: NOW + 10 }), 1));
    t.check(message(encoded({ id: 'b' }), 2));
    clock = NOW + 20;
    t.check(message(encoded({ id: 'c' }), 3));
    refused(t, message(encoded({ id: 'b' }), 4), 'replayed');
  });

  it('without a key (trust.insecure) takes every well-formed task', () => {
    clock = NOW;
    const t = trust({ insecure: true });
    assert.equal(t.secure, false);
    assert.equal(t.check(message(encoded(), 1, null)).taskId, 't1');
    refused(t, { data: Buffer.from([0xff, 0xff, 0xff]), signature: undefined, sequence: 2 }, 'malformed');
  });
});
