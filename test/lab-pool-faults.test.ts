// Every fault the lab pool injects, armed at start (config) or at run time (admin endpoint), and
// what a client — the real xen-api client — sees: a cut export, VDI_IO_ERROR, a body that starts
// with "HTTP/", slow streams, one SESSION_INVALID, a failing snapshot, an admin deleting a
// snapshot, and a cancelled export.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { XapiError } from 'xen-api';
import { parseVhdStream, VhdFormatError } from '../shared/vhd/index.js';
import { MiB, readAll, snapshotDisk, startTestLab, vmDisk, type TestLab } from './support/lab-harness.js';

const isCode = (code: string) => (error: XapiError) => error.code === code;

async function* chunks(buffer: Buffer): AsyncGenerator<Buffer> {
  yield buffer;
}

describe('lab pool faults', () => {
  let lab: TestLab;
  let vmRef: string;
  let vdiRef: string;
  let vdiUuid: string;

  before(async () => {
    lab = await startTestLab({
      fleet: { vms: [{ name: 'vm', disks: [{ size: 8 * MiB, fill: 100 }] }, { name: 'other', disks: [{ size: 4 * MiB, fill: 50 }] }] },
      faults: { snapshotFailure: { times: 1 } },
    });
    const disk = await vmDisk(lab.xapi, 'vm');
    vmRef = disk.vmRef;
    vdiRef = disk.vdiRef;
    vdiUuid = disk.vdi['uuid'] as string;
  });
  after(async () => {
    await lab?.close();
  });

  const exportVdi = (format: 'vhd' | 'raw', ref = vdiRef) => lab.xapi.getResource('/export_raw_vdi/', { query: { format, vdi: ref }, task: true });

  it('snapshot fails with SR_BACKEND_FAILURE_82 (armed at start), changing nothing; then works', async () => {
    const counts = async () => [(await lab.xapi.getAllRecords('VM')).length, (await lab.xapi.getAllRecords('VDI')).length];
    const before = await counts();
    await assert.rejects(lab.xapi.callAsync('VM.snapshot', vmRef, 'fails'), (e: XapiError) => e.code === 'SR_BACKEND_FAILURE_82' && e.params[1] === 'Failed to snapshot VDI');
    assert.deepEqual(await counts(), before);
    await lab.admin.setFaults({ snapshotFailure: { times: 2 } });
    await assert.rejects(lab.xapi.call('VM.snapshot', vmRef, 'fails'), isCode('SR_BACKEND_FAILURE_82'));
    assert.deepEqual(await lab.admin.faults(), { snapshotFailure: { times: 1 } }, 'counts down');
    await assert.rejects(lab.xapi.callAsync('VM.snapshot', vmRef, 'fails'), isCode('SR_BACKEND_FAILURE_82'));
    assert.deepEqual(await lab.admin.faults(), {});
    const snapRef = await lab.xapi.callAsync<string>('VM.snapshot', vmRef, 'works');
    assert.equal((await lab.xapi.getRecord('VM', snapRef))['is_a_snapshot'], true);
  });

  it('exportCut: the connection is reset mid-body; the body errors and the task fails with VDI_IO_ERROR', async () => {
    await lab.admin.setFaults({ exportCut: { afterBytes: MiB } });
    const response = await exportVdi('vhd');
    let received = 0;
    await assert.rejects(
      (async () => {
        for await (const chunk of response.body) received += (chunk as Buffer).length;
      })(),
    );
    assert.ok(received <= MiB, `${received} bytes before the cut`);
    await assert.rejects(response.task!, isCode('VDI_IO_ERROR'));
    const again = await exportVdi('raw');
    assert.equal((await readAll(again.body)).length, 8 * MiB, 'one-shot: the next export is whole');
    await again.task;
  });

  it('exportIoError: the body ends early but cleanly; the task fails with VDI_IO_ERROR and the VHD is truncated', async () => {
    await lab.admin.setFaults({ exportIoError: { afterBytes: 3 * MiB } });
    const response = await exportVdi('vhd');
    const body = await readAll(response.body);
    assert.equal(body.length, 3 * MiB, 'a short body, no transport error');
    await assert.rejects(response.task!, (e: XapiError) => e.code === 'VDI_IO_ERROR' && e.params[0] === 'Device I/O errors');
    const parsed = await parseVhdStream(chunks(body));
    await assert.rejects(
      (async () => {
        for await (const _block of parsed.blocks());
      })(),
      VhdFormatError,
    );
  });

  it('export faults can target one VDI', async () => {
    const other = await vmDisk(lab.xapi, 'other');
    await lab.admin.setFaults({ exportIoError: { afterBytes: 100, vdi: other.vdi['uuid'] as string } });
    const mine = await exportVdi('raw');
    assert.equal((await readAll(mine.body)).length, 8 * MiB);
    await mine.task;
    const theirs = await exportVdi('raw', other.vdiRef);
    assert.equal((await readAll(theirs.body)).length, 100);
    await assert.rejects(theirs.task!, isCode('VDI_IO_ERROR'));
  });

  it('exportHttpPrefix: 200, and a body that is an HTTP 500 response (xen-api#4603)', async () => {
    await lab.admin.setFaults({ exportHttpPrefix: {} });
    const response = await exportVdi('vhd');
    assert.equal(response.statusCode, 200);
    const text = (await readAll(response.body)).toString('latin1');
    assert.match(text, /^HTTP\/1\.1 500 Internal Error\r\n/);
    assert.match(text, /SR_BACKEND_FAILURE_46/);
    await assert.rejects(response.task!, isCode('SR_BACKEND_FAILURE_46'));
    await assert.rejects(parseVhdStream(chunks(Buffer.from(text, 'latin1'))), VhdFormatError, 'not a VHD');
  });

  it('slowStreams: exports and imports are paced until the fault is cleared', async () => {
    await lab.admin.setFaults({ slowStreams: { bytesPerSecond: 8 * MiB } });
    let started = Date.now();
    const slow = await exportVdi('raw');
    assert.equal((await readAll(slow.body)).length, 8 * MiB);
    await slow.task;
    const exportMs = Date.now() - started;
    assert.ok(exportMs >= 800, `8 MiB at 8 MiB/s took ${exportMs} ms`);
    started = Date.now();
    const raw = Buffer.alloc(4 * MiB, 7);
    const sr = (await lab.xapi.getRecord('VDI', vdiRef))['SR'];
    const target = await lab.xapi.call<string>('VDI.create', { SR: sr, virtual_size: 4 * MiB, type: 'user', sharable: false, read_only: false, other_config: {}, name_label: 'slow' });
    await lab.xapi.putResource(raw, '/import_raw_vdi/', { query: { format: 'raw', vdi: target }, task: true });
    const importMs = Date.now() - started;
    assert.ok(importMs >= 350, `4 MiB import at 8 MiB/s took ${importMs} ms`);
    await lab.admin.setFaults({ slowStreams: null });
    started = Date.now();
    const fast = await exportVdi('raw');
    await readAll(fast.body);
    await fast.task;
    assert.ok(Date.now() - started < exportMs / 2, 'full speed again');
  });

  it('a disk being imported cannot be destroyed meanwhile (OTHER_OPERATION_IN_PROGRESS)', async () => {
    await lab.admin.setFaults({ slowStreams: { bytesPerSecond: 4 * MiB } });
    try {
      const sr = (await lab.xapi.getRecord('VDI', vdiRef))['SR'];
      const target = await lab.xapi.call<string>('VDI.create', { SR: sr, virtual_size: 4 * MiB, type: 'user', sharable: false, read_only: false, other_config: {}, name_label: 'busy' });
      const importing = lab.xapi.putResource(Buffer.alloc(4 * MiB, 1), '/import_raw_vdi/', { query: { format: 'raw', vdi: target }, task: true });
      await new Promise((resolve) => setTimeout(resolve, 400));
      await assert.rejects(lab.xapi.call('VDI.destroy', target), isCode('OTHER_OPERATION_IN_PROGRESS'));
      assert.equal(await importing, target);
      await lab.xapi.call('VDI.destroy', target);
    } finally {
      await lab.admin.setFaults({ slowStreams: null });
    }
  });

  it('sessionInvalid: the next call fails once with SESSION_INVALID; the client logs in again and retries', async () => {
    const before = lab.xapi.sessionId;
    await lab.admin.setFaults({ sessionInvalid: {} });
    const vms = await lab.xapi.call<Record<string, unknown>>('VM.get_all_records');
    assert.ok(Object.keys(vms).length >= 2, 'the call succeeded after the re-login');
    assert.notEqual(lab.xapi.sessionId, before, 'a new session');
    const snapRef = await lab.xapi.callAsync<string>('VM.snapshot', vmRef, 'after re-login');
    assert.match(snapRef, /^OpaqueRef:/, 'tasks and events still work');
    const { createClient } = await import('xen-api');
    const raw = createClient({ url: lab.pool.url, auth: { user: 'root', password: 'lab' }, watchEvents: false });
    await raw.connect();
    await lab.admin.setFaults({ sessionInvalid: {} });
    const stale = raw.sessionId;
    await raw.call('pool.get_all');
    assert.notEqual(raw.sessionId, stale);
    await raw.disconnect();
  });

  it('an admin deleting the reference snapshot: its records and disk are gone, a delta from it is refused', async () => {
    const snapRef = await lab.xapi.callAsync<string>('VM.snapshot', vmRef, 'reference');
    const snap = await lab.xapi.getRecord('VM', snapRef);
    const { vdiRef: baseRef, vdi: baseVdi } = await snapshotDisk(lab.xapi, snapRef);
    const deleted = await lab.admin.deleteSnapshot(snap['uuid'] as string);
    assert.deepEqual(deleted, { vm: snap['uuid'], vdis: [baseVdi['uuid']] });
    await assert.rejects(lab.xapi.call('VM.get_record', snapRef), isCode('HANDLE_INVALID'));
    await assert.rejects(lab.xapi.call('VDI.get_record', baseRef), isCode('HANDLE_INVALID'));
    assert.ok(!((await lab.xapi.getRecord('VM', vmRef))['snapshots'] as string[]).includes(snapRef));
    assert.ok(!((await lab.xapi.getRecord('VDI', vdiRef))['snapshots'] as string[]).includes(baseRef));
    const next = await snapshotDisk(lab.xapi, await lab.xapi.callAsync<string>('VM.snapshot', vmRef, 'next'));
    const pending = lab.xapi.getResource('/export_raw_vdi/', { query: { format: 'vhd', vdi: next.vdiRef, base: baseRef }, task: true });
    await assert.rejects(pending, (e: Error & { response?: { statusCode: number } }) => e.response?.statusCode === 404);
    await assert.rejects(lab.admin.deleteSnapshot(vdiUuid), /not a snapshot/);
  });

  it('task.cancel stops an export in progress', async () => {
    await lab.admin.setFaults({ slowStreams: { bytesPerSecond: 2 * MiB } });
    try {
      const response = await exportVdi('raw');
      const taskId = response.headers['task-id'] as string;
      setTimeout(() => void lab.xapi.call('task.cancel', taskId), 300);
      await assert.rejects(readAll(response.body));
      await assert.rejects(response.task!, /cancel/i);
    } finally {
      await lab.admin.clearFaults();
    }
  });

  it('refuses unknown or malformed faults, naming the field', async () => {
    await assert.rejects(lab.admin.setFaults({ exportCut: { afterBytes: 'lots' } }), /exportCut\.afterBytes/);
    await assert.rejects(lab.admin.setFaults({ meteorStrike: {} }), /meteorStrike/);
    assert.deepEqual(await lab.admin.faults(), {});
  });
});
