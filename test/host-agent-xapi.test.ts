// The host agent's XAPI layer against the lab pool through the real `xen-api` client: records,
// error classification with code and parameters, SESSION_INVALID re-login, transient retries,
// and the error page inside an export body (xen-api#4603).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseVhdStream, DiskType } from '../shared/vhd/index.js';
import { XapiCallError } from '../agent/host/xapi/xapi-call-error.js';
import type { XapiVm } from '../agent/host/xapi/xapi-records.js';
import { startHostLab, type HostLab } from './support/host-lab.js';

describe('host agent XAPI layer against the lab pool', () => {
  let env: HostLab;
  before(async () => {
    env = await startHostLab();
  });
  after(async () => {
    await env?.close();
  });

  it('reads records by uuid', async () => {
    const uuid = await env.vmUuid('web');
    const { ref, record } = await env.xapi.getRecordByUuid<XapiVm>('VM', uuid);
    assert.match(ref, /^OpaqueRef:/);
    assert.equal(record.name_label, 'web');
    assert.equal(record.VBDs.length >= 2, true);
  });

  it('reports an unknown uuid with its XAPI code and parameters, as permanent', async () => {
    await assert.rejects(env.xapi.call('VM.get_by_uuid', '00000000-0000-4000-8000-000000000000'), (error: unknown) => {
      assert.ok(error instanceof XapiCallError);
      assert.equal(error.xapiCode, 'UUID_INVALID');
      assert.ok(error.params.includes('00000000-0000-4000-8000-000000000000'));
      assert.equal(error.retryable, false);
      assert.match(error.message, /VM\.get_by_uuid failed: UUID_INVALID\(/);
      return true;
    });
  });

  it('logs in again after SESSION_INVALID (the client does) and the call succeeds', async () => {
    await env.admin.setFaults({ sessionInvalid: { times: 1 } });
    const uuid = await env.vmUuid('db');
    const { record } = await env.xapi.getRecordByUuid<XapiVm>('VM', uuid);
    assert.equal(record.name_label, 'db');
  });

  it('fails a snapshot refused by the SR with SR_BACKEND_FAILURE_82, not retried', async () => {
    await env.admin.setFaults({ snapshotFailure: { times: 1 } });
    const { ref } = await env.xapi.getRecordByUuid<XapiVm>('VM', await env.vmUuid('db'));
    await assert.rejects(env.xapi.callAsync('VM.snapshot', ref, 'should fail'), (error: unknown) => {
      assert.ok(error instanceof XapiCallError);
      assert.equal(error.xapiCode, 'SR_BACKEND_FAILURE_82');
      assert.deepEqual(error.params, ['', 'Failed to snapshot VDI', '']);
      assert.equal(error.retryable, false);
      return true;
    });
    const vm = await env.xapi.getRecord<XapiVm>('VM', ref);
    assert.equal(vm.snapshots.length, 0, 'nothing was snapshotted');
  });

  it('retries an export whose body is an HTTP error page (transient SR_BACKEND_FAILURE_46), then streams the VHD', async () => {
    const [vdi] = await env.diskUuids(await env.vmUuid('db'));
    const vdiRef = await env.xapi.call<string>('VDI.get_by_uuid', vdi);
    await env.admin.setFaults({ exportHttpPrefix: { times: 1 } });
    const exported = await env.xapi.exportVdi(vdiRef);
    const vhd = await parseVhdStream(exported.body);
    assert.equal(vhd.footer.diskType, DiskType.Dynamic);
    let blocks = 0;
    for await (const _ of vhd.blocks()) blocks++;
    await exported.done;
    assert.ok(blocks > 0);
    assert.equal((await env.admin.faults()).exportHttpPrefix, undefined, 'the fault fired');
  });
});
