import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatExportName, parseExportName } from './export-name.js';

const uuid = '4087500d-1c2b-4f3e-8a9b-0c1d2e3f4a5b';

test('an export name round-trips through XAPI form', () => {
  const name = formatExportName({ vdiUuid: uuid, sessionRef: 'OpaqueRef:abc' });
  assert.equal(name, `/${uuid}?session_id=OpaqueRef:abc`);
  assert.deepEqual(parseExportName(name), { vdiUuid: uuid, sessionRef: 'OpaqueRef:abc' });
});

test('names not of XAPI form are not parsed', () => {
  for (const name of ['', uuid, `/${uuid}`, `/${uuid}?session_id=`, '/not-a-uuid?session_id=OpaqueRef:a', `${uuid}?session_id=OpaqueRef:a`]) {
    assert.equal(parseExportName(name), undefined, name);
  }
});
