import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StorageRequestError } from './errors.js';
import { validBackupId, validDiskKey, validUuid } from './ids.js';
import { RemoteLayout } from './remote-layout.js';

test('ids that could leave their folder or hide as temporaries are refused', () => {
  for (const bad of ['', '.', '..', '../x', 'a/b', 'a\\b', '.hidden', 'a.json', 'x'.repeat(65), 'a b', 'é', '-lead', '_lead']) {
    assert.throws(() => validBackupId(bad), StorageRequestError, JSON.stringify(bad));
    assert.throws(() => validDiskKey(bad), StorageRequestError, JSON.stringify(bad));
  }
  for (const good of ['20261126T100000Z-ab12', 'xvda', '0', 'A_b-c', 'x'.repeat(64)]) assert.equal(validBackupId(good), good);
});

test('uuids must be lowercase RFC 4122 text', () => {
  assert.equal(validUuid('0b2f1c9e-5a7d-4e55-9c3f-2d1b6a0e9f10', 'VM uuid'), '0b2f1c9e-5a7d-4e55-9c3f-2d1b6a0e9f10');
  for (const bad of ['0B2F1C9E-5A7D-4E55-9C3F-2D1B6A0E9F10', '../0b2f1c9e-5a7d-4e55-9c3f-2d1b6a0e9f10', '0b2f1c9e5a7d4e559c3f2d1b6a0e9f10']) {
    assert.throws(() => validUuid(bad, 'VM uuid'), /VM uuid/);
  }
});

test('every path the layout builds stays under the root', () => {
  const layout = new RemoteLayout('/srv/remote');
  const vm = '0b2f1c9e-5a7d-4e55-9c3f-2d1b6a0e9f10';
  assert.equal(layout.diskPath(vm, 'xvda', 'b1'), `/srv/remote/vms/${vm}/disks/xvda/b1.vhd`);
  assert.equal(layout.metadataPath(vm, 'b1'), `/srv/remote/vms/${vm}/backups/b1.json`);
  assert.throws(() => layout.diskPath(vm, '..', 'b1'));
  assert.throws(() => layout.metadataPath('..', 'b1'));
});
