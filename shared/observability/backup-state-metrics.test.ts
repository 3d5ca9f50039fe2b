import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { BackupStateMetrics } from './backup-state-metrics.js';

describe('BackupStateMetrics', () => {
  it('sets chain lengths and the last good backup as timestamp and age; a later update drops what is gone', async () => {
    const registry = new Registry();
    const metrics = new BackupStateMetrics(registry);
    const takenAt = new Date('2026-11-26T02:00:00Z');
    metrics.update(
      {
        chains: [{ remote: 'nas1', vmUuid: 'vm-a', diskKey: 'xvda', length: 3 }, { remote: 'nas1', vmUuid: 'vm-b', diskKey: 'xvda', length: 5 }],
        lastGood: [{ remote: 'nas1', vmUuid: 'vm-a', vmName: 'web', takenAt }],
      },
      new Date('2026-11-26T08:00:00Z'),
    );
    let text = await registry.metrics();
    assert.match(text, /deltachain_chain_length\{remote="nas1",vm="vm-a",disk="xvda"\} 3/);
    assert.match(text, /deltachain_chain_length\{remote="nas1",vm="vm-b",disk="xvda"\} 5/);
    assert.match(text, new RegExp(`deltachain_last_good_backup_timestamp_seconds\\{remote="nas1",vm="vm-a",vm_name="web"\\} ${takenAt.getTime() / 1000}`));
    assert.match(text, /deltachain_last_good_backup_age_seconds\{remote="nas1",vm="vm-a",vm_name="web"\} 21600/);

    metrics.update({ chains: [{ remote: 'nas1', vmUuid: 'vm-a', diskKey: 'xvda', length: 3 }], lastGood: [] }, new Date());
    text = await registry.metrics();
    assert.doesNotMatch(text, /vm-b/);
    assert.doesNotMatch(text, /deltachain_last_good_backup_age_seconds\{/);
  });
});
