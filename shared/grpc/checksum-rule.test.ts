import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WireChecksumRule, checksumRuleFromWire, checksumRuleToWire } from './checksum-rule.js';

test('checksum rules round-trip through the wire; a value this version does not know is undefined, never taken for another rule', () => {
  for (const rule of ['whole', 'pieces'] as const) assert.equal(checksumRuleFromWire(checksumRuleToWire(rule)), rule);
  assert.equal(checksumRuleToWire('whole'), WireChecksumRule.CHECKSUM_RULE_WHOLE, 'the proto3 default (0): streams of earlier writers');
  assert.equal(checksumRuleFromWire(7 as WireChecksumRule), undefined);
  assert.equal(checksumRuleFromWire(WireChecksumRule.UNRECOGNIZED), undefined);
});
