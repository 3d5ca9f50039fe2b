// The lab pool's NBD server read by independent clients (qemu-img, nbdinfo, nbdcopy: GnuTLS,
// libnbd) and by ours (shared/nbd NbdDiskReader), plaintext (insecure_nbd) and TLS (nbd): the
// bytes equal the lab's digest of the snapshot. Also: no NBD network → get_nbd_info is [], a
// logged-out session's export name is refused, TLS forced on an `nbd` network, the nbdCut fault
// resumed by our reader, and the cbtLost fault. qemu-utils and libnbd-bin are test prerequisites.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { XapiRecord } from 'xen-api';
import { NbdDiskReader, NbdClient, NbdError, type NbdConnectOptions } from '../shared/nbd/index.js';
import { MiB, fleet, snapshotDisk, startTestLab, vmDisk, type TestLab } from './support/lab-harness.js';

const run = promisify(execFile);
const DISK = 64 * MiB;

interface NbdInfo {
  address: string;
  port: number;
  exportname: string;
  cert: string;
  subject: string;
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** An NBD URI for libnbd and qemu: the export name percent-encoded (XAPI's holds `?` and `:`). */
function nbdUri(info: NbdInfo, tlsFolder?: string): string {
  const scheme = tlsFolder ? 'nbds' : 'nbd';
  return `${scheme}://${info.address}:${info.port}/${encodeURIComponent(info.exportname)}${tlsFolder ? `?tls-certificates=${tlsFolder}` : ''}`;
}

/** The whole export read by NbdDiskReader; with `blockStatus`, only what base:allocation reports as data is read, the rest is zeros. */
async function readWithOurs(info: NbdInfo, options: { tls?: boolean; connections?: number; blockStatus?: boolean } = {}): Promise<{ data: Buffer; reconnections: number; dataBytes: number }> {
  const endpoint: NbdConnectOptions = {
    host: info.address,
    port: info.port,
    exportName: info.exportname,
    timeoutMs: 10_000,
    ...(options.blockStatus ? { blockStatus: true } : {}),
    ...(options.tls ? { tls: { ca: info.cert, subject: info.subject } } : {}),
  };
  const reader = new NbdDiskReader({ endpoint: async () => endpoint, connections: options.connections ?? 2, retryDelayMs: 20 });
  try {
    const size = await reader.open();
    const disk = Buffer.alloc(size);
    const ranges = options.blockStatus ? await reader.dataRanges({ offset: 0, length: size }) : [{ offset: 0, length: size }];
    let dataBytes = 0;
    for await (const { offset, data } of reader.readRanges(ranges)) {
      data.copy(disk, offset);
      dataBytes += data.length;
    }
    return { data: disk, reconnections: reader.reconnectionCount, dataBytes };
  } finally {
    await reader.close();
  }
}

async function rawCall(lab: TestLab, method: string, params: unknown[]): Promise<unknown> {
  const response = await fetch(`${lab.pool.url}/jsonrpc`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
  const body = (await response.json()) as { result?: unknown; error?: { message: string } };
  if (body.error) throw new Error(body.error.message);
  return body.result;
}

/** A written disk's snapshot and its digest. */
async function snapshotWithData(lab: TestLab): Promise<{ vdiRef: string; vdi: XapiRecord; sha256: string }> {
  const { vmRef, vdi } = await vmDisk(lab.xapi);
  await lab.admin.write({ vdi: vdi['uuid'] as string, pattern: 'clustered-64k', percent: 10, seed: 3 });
  const snapRef = await lab.xapi.callAsync<string>('VM.snapshot', vmRef, 'nbd backup');
  const snapshot = await snapshotDisk(lab.xapi, snapRef);
  const { sha256: digest } = await lab.admin.digest(snapshot.vdi['uuid'] as string);
  return { ...snapshot, sha256: digest };
}

describe('lab NBD server, no NBD network', () => {
  let lab: TestLab;
  before(async () => (lab = await startTestLab({ fleet: fleet([DISK]) })));
  after(() => lab.close());

  it('VDI.get_nbd_info is [] and the networks have purpose []', async () => {
    const { vdiRef } = await vmDisk(lab.xapi);
    assert.deepEqual(await lab.xapi.call('VDI.get_nbd_info', vdiRef), []);
    const networks = await lab.xapi.call<Record<string, XapiRecord>>('network.get_all_records');
    for (const network of Object.values(networks)) assert.deepEqual(network['purpose'], []);
  });
});

describe('lab NBD server, insecure_nbd then nbd', () => {
  let lab: TestLab;
  let snapshot: { vdiRef: string; vdi: XapiRecord; sha256: string };
  let networkRef: string;
  before(async () => {
    lab = await startTestLab({ fleet: { ...fleet([DISK]), networks: [{ name: 'storage', purpose: ['insecure_nbd'] }] } });
    snapshot = await snapshotWithData(lab);
    networkRef = (await lab.xapi.call<string[]>('network.get_all'))[0]!;
  });
  after(() => lab.close());

  const info = async (): Promise<NbdInfo> => {
    const records = await lab.xapi.call<NbdInfo[]>('VDI.get_nbd_info', snapshot.vdiRef);
    assert.equal(records.length, 1);
    return records[0]!;
  };

  it('plaintext: get_nbd_info names the VDI and the session; qemu-img, nbdinfo, nbdcopy and ours read the digest', async (t) => {
    const record = await info();
    assert.equal(record.address, '127.0.0.1');
    assert.equal(record.port, lab.pool.nbd.port);
    assert.equal(record.exportname, `/${snapshot.vdi['uuid']}?session_id=${lab.xapi.sessionId}`);
    assert.equal(record.cert, '');
    const out = join(lab.dir, 'plain');
    await mkdir(out);
    const size = await run('nbdinfo', ['--size', nbdUri(record)]);
    assert.equal(Number(size.stdout.trim()), DISK);
    await run('qemu-img', ['convert', '-f', 'raw', nbdUri(record), '-O', 'raw', join(out, 'qemu.raw')]);
    assert.equal(sha256(await readFile(join(out, 'qemu.raw'))), snapshot.sha256, 'qemu-img convert');
    await run('nbdcopy', [nbdUri(record), join(out, 'nbdcopy.raw')]);
    assert.equal(sha256(await readFile(join(out, 'nbdcopy.raw'))), snapshot.sha256, 'nbdcopy');
    assert.equal(sha256((await readWithOurs(record)).data), snapshot.sha256, 'NbdDiskReader');
    const sparse = await readWithOurs(record, { blockStatus: true });
    assert.equal(sha256(sparse.data), snapshot.sha256, 'NbdDiskReader, base:allocation');
    const map = await run('nbdinfo', ['--map', nbdUri(record)]);
    const mapped = map.stdout.trim().split('\n').map((line) => line.trim().split(/\s+/));
    const dataBytes = mapped.filter((columns) => columns[3] === 'data').reduce((sum, columns) => sum + Number(columns[1]), 0);
    assert.ok(mapped.some((columns) => columns[3] === 'hole,zero'), 'nbdinfo --map sees holes');
    assert.ok(dataBytes > 0 && dataBytes < DISK, `nbdinfo --map: ${dataBytes} bytes of data`);
    assert.equal(sparse.dataBytes, dataBytes, 'ours read exactly what nbdinfo maps as data');
    t.diagnostic(`export ${record.exportname} on port ${record.port}`);
  });

  it('plaintext: STARTTLS is not offered, so a client asking for TLS is refused', async () => {
    const record = await info();
    const tls = { ca: lab.pool.nbd.cert, subject: lab.pool.nbd.subject };
    await assert.rejects(NbdClient.connect({ host: record.address, port: record.port, exportName: record.exportname, tls }), (error: unknown) => error instanceof NbdError && error.code === 'NBD_TLS_REFUSED');
  });

  it("a logged-out session's export name is refused, and an unknown VDI's", async () => {
    const session = (await rawCall(lab, 'session.login_with_password', [lab.pool.user, lab.pool.password, '1.0', 'test'])) as string;
    const [record] = (await rawCall(lab, 'VDI.get_nbd_info', [session, snapshot.vdiRef])) as NbdInfo[];
    const client = await NbdClient.connect({ host: record!.address, port: record!.port, exportName: record!.exportname });
    assert.equal(client.size, DISK);
    await client.close();
    await rawCall(lab, 'session.logout', [session]);
    const refused = (error: unknown): boolean => error instanceof NbdError && error.code === 'NBD_EXPORT_REFUSED' && /session/.test(error.message);
    await assert.rejects(NbdClient.connect({ host: record!.address, port: record!.port, exportName: record!.exportname }), refused);
    await assert.rejects(run('nbdinfo', ['--size', nbdUri(record!)]), 'nbdinfo is refused too');
    const unknown = record!.exportname.replace(/^\/[0-9a-f-]+/, '/00000000-0000-4000-8000-000000000000');
    await assert.rejects(NbdClient.connect({ host: record!.address, port: record!.port, exportName: unknown }), (error: unknown) => error instanceof NbdError && error.code === 'NBD_EXPORT_REFUSED');
  });

  it('nbdCut: a connection cut mid-read is reopened by our reader and the bytes are right', async () => {
    await lab.admin.setFaults({ nbdCut: { afterBytes: 5 * MiB + 1234, times: 2 } });
    const { data, reconnections } = await readWithOurs(await info());
    assert.equal(sha256(data), snapshot.sha256);
    assert.ok(reconnections >= 1, `reconnections ${reconnections}`);
    assert.equal((await lab.admin.faults()).nbdCut, undefined, 'both cuts fired');
  });

  it('nbd and insecure_nbd cannot both be set (NETWORK_INCOMPATIBLE_PURPOSES)', async () => {
    await assert.rejects(lab.xapi.call('network.add_purpose', networkRef, 'nbd'), /NETWORK_INCOMPATIBLE_PURPOSES/);
  });

  it('purpose nbd: TLS is forced; qemu-img, nbdinfo, nbdcopy and ours read the digest over TLS; plaintext clients are refused', async () => {
    await lab.xapi.call('network.remove_purpose', networkRef, 'insecure_nbd');
    await lab.xapi.call('network.add_purpose', networkRef, 'nbd');
    const record = await info();
    assert.equal(record.cert, lab.pool.nbd.cert);
    assert.equal(record.subject, 'lab-host');
    const certs = join(lab.dir, 'certs');
    await mkdir(certs);
    await writeFile(join(certs, 'ca-cert.pem'), record.cert);
    const out = join(lab.dir, 'tls');
    await mkdir(out);
    const size = await run('nbdinfo', ['--size', nbdUri(record, certs)]);
    assert.equal(Number(size.stdout.trim()), DISK);
    await run('qemu-img', ['convert', '--object', `tls-creds-x509,id=tls0,dir=${certs},endpoint=client`, '--image-opts',
      `driver=nbd,server.type=inet,server.host=${record.address},server.port=${record.port},export=${record.exportname},tls-creds=tls0`, '-O', 'raw', join(out, 'qemu.raw')]);
    assert.equal(sha256(await readFile(join(out, 'qemu.raw'))), snapshot.sha256, 'qemu-img convert over TLS');
    await run('nbdcopy', [nbdUri(record, certs), join(out, 'nbdcopy.raw')]);
    assert.equal(sha256(await readFile(join(out, 'nbdcopy.raw'))), snapshot.sha256, 'nbdcopy over TLS');
    assert.equal(sha256((await readWithOurs(record, { tls: true })).data), snapshot.sha256, 'NbdDiskReader over TLS');
    await assert.rejects(NbdClient.connect({ host: record.address, port: record.port, exportName: record.exportname }), (error: unknown) => error instanceof NbdError && error.code === 'NBD_TLS_REQUIRED');
    await assert.rejects(run('nbdinfo', ['--size', nbdUri(record)]), 'plaintext nbdinfo is refused');
  });

  it('cbtLost: list_changed_blocks fails VDI_NO_CBT_METADATA once; a cbt_metadata VDI is not served over NBD', async () => {
    const { vmRef, vdiRef } = await vmDisk(lab.xapi);
    await lab.xapi.call('VDI.enable_cbt', vdiRef);
    const first = await snapshotDisk(lab.xapi, await lab.xapi.callAsync<string>('VM.snapshot', vmRef, 'cbt 1'));
    await lab.admin.setFaults({ cbtLost: { vdi: first.vdi['uuid'] } });
    await assert.rejects(lab.xapi.call('VDI.list_changed_blocks', first.vdiRef, vdiRef), /VDI_NO_CBT_METADATA/);
    assert.equal(typeof (await lab.xapi.call('VDI.list_changed_blocks', first.vdiRef, vdiRef)), 'string');
    await lab.xapi.call('VDI.data_destroy', first.vdiRef);
    const [record] = await lab.xapi.call<NbdInfo[]>('VDI.get_nbd_info', first.vdiRef);
    const tls = { ca: record!.cert, subject: record!.subject };
    await assert.rejects(NbdClient.connect({ host: record!.address, port: record!.port, exportName: record!.exportname, tls }), (error: unknown) => error instanceof NbdError && error.code === 'NBD_EXPORT_REFUSED' && /cbt_metadata/.test(error.message));
  });
});
