import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidArgumentError } from 'commander';
import { sinceInstant } from './audit-commands.js';

test('--since takes a time ago, a day or an instant', () => {
  const now = Date.parse('2026-06-02T12:00:00Z');
  assert.equal(sinceInstant('30m', now).toISOString(), '2026-06-02T11:30:00.000Z');
  assert.equal(sinceInstant('2h', now).toISOString(), '2026-06-02T10:00:00.000Z');
  assert.equal(sinceInstant('7d', now).toISOString(), '2026-05-26T12:00:00.000Z');
  assert.equal(sinceInstant('2026-06-01', now).toISOString(), '2026-06-01T00:00:00.000Z');
  assert.equal(sinceInstant('2026-06-01T02:00:00Z', now).toISOString(), '2026-06-01T02:00:00.000Z');
  for (const bad of ['yesterday', '2x', '']) assert.throws(() => sinceInstant(bad, now), InvalidArgumentError, bad);
});
