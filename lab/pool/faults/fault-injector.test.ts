import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FaultInjector } from './fault-injector.js';

describe('FaultInjector', () => {
  it('fires one-shot faults `times` times, then disarms', () => {
    const faults = new FaultInjector({ snapshotFailure: { times: 2 } });
    assert.ok(faults.take('snapshotFailure'));
    assert.deepEqual(faults.current(), { snapshotFailure: { times: 1 } });
    assert.ok(faults.take('snapshotFailure'));
    assert.equal(faults.take('snapshotFailure'), undefined);
  });

  it('keeps "always" faults and slow streams until cleared', () => {
    const faults = new FaultInjector();
    faults.update({ sessionInvalid: { times: 'always' }, slowStreams: { bytesPerSecond: 1000 } });
    for (let i = 0; i < 3; i++) assert.ok(faults.take('sessionInvalid'));
    assert.equal(faults.streamRate(), 1000);
    faults.update({ slowStreams: null });
    assert.equal(faults.streamRate(), undefined);
    faults.clear();
    assert.deepEqual(faults.current(), {});
  });

  it('matches export faults to their VDI', () => {
    const faults = new FaultInjector({ exportCut: { afterBytes: 10, times: 1, vdi: 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa' } });
    assert.equal(faults.take('exportCut', 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb'), undefined);
    assert.deepEqual(faults.take('exportCut', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa'), { afterBytes: 10, times: 1, vdi: 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa' });
  });

  it('validates updates and keeps the old faults on error', () => {
    const faults = new FaultInjector({ snapshotFailure: { times: 1 } });
    assert.throws(() => faults.update({ exportIoError: { afterBytes: -5 } }));
    assert.throws(() => faults.update({ nope: {} }));
    assert.deepEqual(faults.current(), { snapshotFailure: { times: 1 } });
  });

  it('arms the NBD cut and lost CBT metadata faults, once by default', () => {
    const faults = new FaultInjector();
    assert.deepEqual(faults.update({ nbdCut: { afterBytes: 4096 }, cbtLost: {} }), { nbdCut: { afterBytes: 4096, times: 1 }, cbtLost: { times: 1 } });
    assert.throws(() => faults.update({ cbtLost: { vdi: 'not-a-uuid' } }));
    assert.deepEqual(faults.take('nbdCut', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa'), { afterBytes: 4096, times: 1 });
    assert.equal(faults.take('nbdCut'), undefined);
  });
});
