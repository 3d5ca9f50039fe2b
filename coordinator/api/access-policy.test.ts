import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ControlServiceService } from '../../shared/proto/gen/deltachain/control/v1/control.js';
import { CONTROL_POLICY, controlAccess, type ApiCaller, type ControlMethod } from './access-policy.js';

const tls = (role: string | undefined, open = false): ApiCaller => ({
  transport: 'tls',
  identity: role === undefined ? undefined : ({ role, name: role === 'coordinator' ? '' : 'x' } as never),
  peer: '10.0.0.9:4242',
  open,
});

describe('control API access policy', () => {
  test('every method of the service is in the table, and nothing else', () => {
    assert.deepEqual(Object.keys(CONTROL_POLICY).sort(), Object.keys(ControlServiceService).sort());
  });

  test('reads are the methods that do not stream changes into the catalogue', () => {
    for (const [method, definition] of Object.entries(ControlServiceService)) {
      const name = definition.path.split('/').pop()!;
      const looksRead = /^(List|Get|Watch)/.test(name);
      assert.equal(CONTROL_POLICY[method as ControlMethod] === 'read', looksRead, method);
    }
  });

  test('method × caller', () => {
    for (const method of Object.keys(CONTROL_POLICY) as ControlMethod[]) {
      const read = CONTROL_POLICY[method] === 'read';
      assert.equal(controlAccess(method, tls('operator')).outcome, 'serve', method);
      assert.equal(controlAccess(method, { transport: 'socket' }).outcome, 'serve', method);
      assert.equal(controlAccess(method, tls('viewer')).outcome, read ? 'serve' : 'refuse', method);
      for (const role of ['coordinator', 'host', 'storage']) {
        const decision = controlAccess(method, tls(role));
        assert.equal(decision.outcome === 'refuse' && decision.status, 'permission-denied', `${method} ${role}`);
      }
      const anonymous = controlAccess(method, tls(undefined));
      assert.equal(anonymous.outcome === 'refuse' && anonymous.status, 'unauthenticated', method);
      assert.equal(controlAccess(method, tls(undefined, true)).outcome, 'serve', method);
      assert.equal(controlAccess(method, tls('host', true)).outcome, 'refuse', method);
    }
  });

  test('the audit names the caller as the transport proved it', () => {
    assert.equal(controlAccess('addPool', tls('viewer')).who, 'viewer:x');
    assert.equal(controlAccess('addPool', { transport: 'socket' }).who, 'local socket');
    assert.equal(controlAccess('addPool', tls(undefined)).who, 'no identity 10.0.0.9:4242');
  });
});
