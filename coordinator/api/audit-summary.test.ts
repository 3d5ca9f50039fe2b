import assert from 'node:assert/strict';
import { test } from 'node:test';
import { auditSummary, MAX_SUMMARY } from './audit-summary.js';

test('the audit keeps a request as JSON, secrets hidden at any depth, long ones cut', () => {
  assert.equal(auditSummary({ name: 'lab', site: 'dc1' }), '{"name":"lab","site":"dc1"}');
  assert.equal(auditSummary({ pool: { password: 'hunter2', url: 'x' }, nkeySeed: 'SU…', apiToken: 't' }), '{"pool":{"password":"(hidden)","url":"x"},"nkeySeed":"(hidden)","apiToken":"(hidden)"}');
  const long = auditSummary({ vmUuids: Array.from({ length: 500 }, (_, i) => `vm-${i}`) });
  assert.equal(long.length, MAX_SUMMARY);
  assert.ok(long.endsWith('…'));
  assert.equal(auditSummary(undefined), '{}');
});
