import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { identityOfCertificate, identityText, identityUri, parseIdentityText } from './identity.js';

describe('identities in certificates', () => {
  test('each role reads back from its SAN URI', () => {
    for (const identity of [
      { role: 'coordinator', name: '' },
      { role: 'host', name: 'lab' },
      { role: 'storage', name: 'nas-2' },
      { role: 'operator', name: 'alice' },
      { role: 'viewer', name: 'bob' },
    ] as const) {
      const san = `DNS:example.org, URI:${identityUri(identity)}, IP Address:127.0.0.1`;
      assert.deepEqual(identityOfCertificate({ subjectaltname: san }), identity);
      assert.deepEqual(parseIdentityText(identityText(identity)), identity);
    }
  });

  test('no identity, two identities, unknown roles and bad names give none', () => {
    for (const san of [
      undefined,
      '',
      'DNS:localhost',
      'URI:urn:deltachain:host:lab, URI:urn:deltachain:operator:eve',
      'URI:urn:deltachain:root:lab',
      'URI:urn:deltachain:host:',
      'URI:urn:deltachain:host:Lab',
      'URI:urn:deltachain:host:a/../b',
      'URI:urn:deltachain:coordinator:x',
      'URI:urn:deltachain:host',
    ]) {
      assert.equal(identityOfCertificate(san === undefined ? undefined : { subjectaltname: san }), undefined, String(san));
    }
    assert.equal(parseIdentityText('host'), undefined);
    assert.equal(parseIdentityText('root:x'), undefined);
  });
});
