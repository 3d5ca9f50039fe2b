import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { XapiVm } from '../xapi/xapi-records.js';
import { filterBootConfig } from './boot-config-filter.js';

const stored = {
  uuid: '0b2f1c9e-0000-4000-8000-000000000001',
  name_label: 'web',
  PV_bootloader: 'pygrub',
  PV_args: 'init=/bin/sh',
  PV_kernel: '',
  xenstore_data: { 'vm-data/x': '1' },
  VCPUs_max: '2',
  other_config: { pci: '0/0000:03:00.0', 'install-methods': 'cdrom' },
  platform: { device_model_args: '-hdb /dev/sda', viridian: 'true' },
} as unknown as XapiVm;

describe('filterBootConfig', () => {
  it('drops boot-path and passthrough fields, keeps the rest, lists what it dropped', () => {
    const { vm, dropped } = filterBootConfig(stored, false);
    assert.deepEqual(dropped, ['PV_bootloader', 'PV_args', 'xenstore_data', 'other_config:pci', 'platform:device_model_args']);
    const v = vm as unknown as Record<string, unknown>;
    assert.equal(v['PV_args'], '');
    assert.equal(v['PV_bootloader'], '');
    assert.deepEqual(v['xenstore_data'], {});
    assert.equal(v['VCPUs_max'], '2');
    assert.deepEqual(vm.other_config, { 'install-methods': 'cdrom' });
    assert.deepEqual(v['platform'], { viridian: 'true' });
  });

  it('keeps everything with keep', () => {
    assert.deepEqual(filterBootConfig(stored, true), { vm: stored, dropped: [] });
  });
});
