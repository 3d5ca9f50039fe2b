import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import { labFleet, parseLabOptions } from './lab-options.js';

const MiB = 1024 * 1024;

describe('npm run lab options', () => {
  it('defaults: interactive on .lab, the CLI\'s port, local Postgres and NATS', () => {
    const o = parseLabOptions([], {});
    assert.deepEqual(o, { once: false, root: resolve('.lab'), diskSize: 128 * MiB, nights: 5, port: 7100, postgresUrl: undefined, postgresPort: 5432, natsUrl: 'nats://127.0.0.1:4222', logLevel: 'info', faults: {} });
    assert.ok(Object.isFrozen(o));
  });

  it('--once picks a free port; the environment names the servers', () => {
    const o = parseLabOptions(['--once', '--root', '/tmp/x', '--disk-size', '32MiB', '--nights', '6'], { DELTACHAIN_LAB_PG_URL: 'postgres://u:p@127.0.0.1:5433/postgres', DELTACHAIN_LAB_NATS_URL: 'nats://127.0.0.1:4333' });
    assert.equal(o.port, 0);
    assert.equal(o.root, '/tmp/x');
    assert.equal(o.diskSize, 32 * MiB);
    assert.equal(o.nights, 6);
    assert.equal(o.postgresPort, 5433);
    assert.equal(o.natsUrl, 'nats://127.0.0.1:4333');
  });

  it('refuses a disk size that is not whole 2 MiB blocks, and too few nights to merge', () => {
    assert.throws(() => parseLabOptions(['--disk-size', '3MiB'], {}), /multiple of 2 MiB/);
    assert.throws(() => parseLabOptions(['--disk-size', 'big'], {}), /not a size/);
    assert.throws(() => parseLabOptions(['--nights', '4'], {}), /≥ 5/);
    assert.throws(() => parseLabOptions(['--faults', '[1]'], {}), /not a JSON object of faults/);
    assert.deepEqual(parseLabOptions(['--faults', '{"snapshotFailure":{"times":1}}'], {}).faults, { snapshotFailure: { times: 1 } });
  });

  it('halves the second disks, in whole blocks, never below 4 MiB', () => {
    const sizes = (d: number) => labFleet(d).vms!.flatMap((vm) => (vm.disks ?? []).map((disk) => disk.size));
    assert.deepEqual(sizes(128 * MiB), [128 * MiB, 64 * MiB, 128 * MiB, 64 * MiB]);
    assert.deepEqual(sizes(6 * MiB), [6 * MiB, 4 * MiB, 6 * MiB, 4 * MiB]);
  });
});
