import { test } from 'node:test';
import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { DeltachainError } from '../../shared/errors.js';
import { toServiceError } from './grpc-status.js';

test('a catalogue connection lost under a call is UNAVAILABLE (retryable), not an internal error', () => {
  const lost = Object.assign(new Error('write CONNECTION_CLOSED 10.1.1.1:5432'), { code: 'CONNECTION_CLOSED' });
  const sent = toServiceError(lost);
  assert.equal(sent.code, status.UNAVAILABLE);
  assert.equal(sent.metadata?.get('deltachain-code')[0], 'CATALOG_UNAVAILABLE');
  assert.match(sent.details ?? '', /catalogue database did not answer.*try again/);
});

test('our errors keep their status; anything else unknown stays internal', () => {
  assert.equal(toServiceError(new DeltachainError('NOT_FOUND', 'no such policy')).code, status.NOT_FOUND);
  assert.equal(toServiceError(new TypeError('x is undefined')).code, status.INTERNAL);
});
