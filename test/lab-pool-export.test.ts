// Exports and imports through the real xen-api client (getResource / putResource), checked
// against independent readers: the VHD module (VhdFile, ChainReader, parseVhdStream), qemu-img
// (full, dynamic) and libvhdi (differencing with its parent), all compared with the VDI's raw
// content (format=raw export and the lab's digest). Also: a delta after a 1 % clustered write on
// a 4 GiB disk carries about 1 % of the disk.
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { XapiError } from 'xen-api';
import { ChainReader, DiskType, FOOTER_SIZE, PlatformCode, VhdFile, decodeFooter, decodeHeader, parseVhdStream } from '../shared/vhd/index.js';
import { vhdExportLayout } from '../lab/pool/vhd/vhd-export-layout.js';
import { GiB, MiB, saveBody, snapshotDisk, startTestLab, vmDisk, type TestLab } from './support/lab-harness.js';
import { assertSameBytes, libvhdiChainToRaw, qemuVhdToRaw, sha256File } from './support/vhd-oracles.js';

const SIZE = 25 * MiB; // 13 blocks, the last one half used

/** A file stream with the `length` the client needs for its Content-Length. */
function fileBody(path: string, length: number): Readable & { length: number } {
  return Object.assign(createReadStream(path), { length });
}

describe('lab pool exports and imports', () => {
  let lab: TestLab;
  let vmRef: string;
  let live: { ref: string; uuid: string };
  const snaps: { vmRef: string; vdiRef: string; uuid: string; vhd: string; raw: string }[] = [];

  before(async () => {
    lab = await startTestLab({ fleet: { vms: [{ name: 'db', disks: [{ size: SIZE, fill: 40 }] }] } });
    const disk = await vmDisk(lab.xapi, 'db');
    vmRef = disk.vmRef;
    live = { ref: disk.vdiRef, uuid: disk.vdi['uuid'] as string };
  });
  after(async () => {
    await lab?.close();
  });

  async function snapshot(name: string) {
    const snapRef = await lab.xapi.callAsync<string>('VM.snapshot', vmRef, name);
    const { vdiRef, vdi } = await snapshotDisk(lab.xapi, snapRef);
    const uuid = vdi['uuid'] as string;
    const raw = join(lab.dir, `${uuid}.raw`);
    const response = await lab.xapi.getResource('/export_raw_vdi/', { query: { format: 'raw', vdi: vdiRef }, task: true });
    assert.equal(await saveBody(response.body, raw), SIZE);
    assert.equal(await response.task, '');
    const snap = { vmRef: snapRef, vdiRef, uuid, vhd: join(lab.dir, `${uuid}.vhd`), raw };
    snaps.push(snap);
    return snap;
  }

  it('full export: a dynamic VHD in XAPI layout, read identically by the VHD module and qemu-img', async () => {
    const snap = await snapshot('full');
    assert.equal(await sha256File(snap.raw), (await lab.admin.digest(snap.uuid)).sha256, 'raw export = digest');
    const response = await lab.xapi.getResource('/export_raw_vdi/', { query: { format: 'vhd', vdi: snap.vdiRef }, task: true });
    assert.equal(response.statusCode, 200);
    assert.equal(response.headers['content-type'], 'application/vhd');
    assert.equal(response.headers['content-length'], undefined);
    const bytes = await saveBody(response.body, snap.vhd);
    assert.equal(await response.task, '', 'the task ends with result ""');

    const head = await readFile(snap.vhd);
    const footer = decodeFooter(head.subarray(0, FOOTER_SIZE));
    assert.equal(footer.diskType, DiskType.Dynamic);
    assert.equal(footer.creatorApplication, 'caml');
    assert.equal(footer.currentSize, SIZE);
    assert.equal(footer.uuid, snap.uuid, 'footer uuid = the snapshot VDI uuid');
    const header = decodeHeader(head.subarray(512, 1536), SIZE);
    assert.equal(header.tableOffset, 2048);
    assert.ok(head.subarray(1536, 2048).every((b) => b === 0), 'zeros at 1536');
    assert.deepEqual(decodeFooter(head.subarray(bytes - FOOTER_SIZE)), footer, 'footer copy at the end');

    const vhd = await VhdFile.open(snap.vhd);
    try {
      const allocated = lab.pool.state.disks.allocatedBlocks(snap.uuid);
      assert.deepEqual(vhd.allocatedBlocks(), allocated);
      assert.ok(allocated.length > 0 && allocated.length < 13);
      const offsets = allocated.map((i) => vhd.blockOffset(i)!);
      assert.deepEqual(offsets, [...offsets].sort((a, b) => a - b), 'blocks in index order');
      const first = await vhd.readBlock(allocated[0]!);
      assert.ok(first!.bitmap.every((b) => b === 0xff), 'all-ones bitmap');
    } finally {
      await vhd.close();
    }
    const chain = await ChainReader.open(snap.vhd);
    try {
      assert.deepEqual(await chain.read(0, SIZE), await readFile(snap.raw), 'VHD module reads the raw content');
    } finally {
      await chain.close();
    }
    const qemuRaw = join(lab.dir, 'qemu-full.raw');
    await qemuVhdToRaw(snap.vhd, qemuRaw);
    await assertSameBytes(qemuRaw, snap.raw, 'qemu-img read of the full export');
  });

  it('delta export: a differencing VHD of the changed blocks, read with its parent by libvhdi and the VHD module', async () => {
    const base = snaps[0]!;
    await lab.admin.write({ vdi: live.uuid, pattern: 'clustered', percent: 10, seed: 5 });
    await lab.admin.write({ vdi: live.uuid, pattern: 'scattered', percent: 0.1, seed: 6 });
    const snap = await snapshot('delta');
    const response = await lab.xapi.getResource('/export_raw_vdi/', { query: { format: 'vhd', vdi: snap.vdiRef, base: base.vdiRef }, task: true });
    await saveBody(response.body, snap.vhd);
    assert.equal(await response.task, '');
    const vhd = await VhdFile.open(snap.vhd);
    try {
      assert.equal(vhd.footer.diskType, DiskType.Differencing);
      assert.equal(vhd.footer.uuid, snap.uuid);
      assert.equal(vhd.header.parentUuid, base.uuid, 'parent = the base VDI');
      assert.equal(vhd.header.parentUnicodeName, `${base.uuid}.vhd`);
      assert.equal(vhd.header.parentLocators[0]!.platformCode, PlatformCode.MacX);
      const changed = lab.pool.state.disks.changedBlocks(base.uuid, snap.uuid);
      assert.deepEqual(vhd.allocatedBlocks(), changed, 'exactly the changed blocks');
      assert.ok(changed.length > 0 && changed.length < lab.pool.state.disks.allocatedBlocks(snap.uuid).length + 13);
    } finally {
      await vhd.close();
    }
    const libvhdiRaw = join(lab.dir, 'libvhdi-chain.raw');
    assert.equal(await libvhdiChainToRaw([snap.vhd, base.vhd], libvhdiRaw), SIZE);
    await assertSameBytes(libvhdiRaw, snap.raw, 'libvhdi read of delta + full');
    const chain = await ChainReader.open(snap.vhd);
    try {
      assert.deepEqual(await chain.read(0, SIZE), await readFile(snap.raw), 'ChainReader read of delta + full');
    } finally {
      await chain.close();
    }
    assert.notEqual(await sha256File(snap.raw), await sha256File(base.raw), 'the writes changed the disk');
  });

  it('import: a full then its delta, put onto a new VDI, rebuild the snapshot; the task result is the VDI', async () => {
    const [full, delta] = snaps;
    const sr = (await lab.xapi.getRecord('VDI', live.ref))['SR'];
    const target = await lab.xapi.call<string>('VDI.create', { name_label: 'restore', SR: sr, virtual_size: SIZE, type: 'user', sharable: false, read_only: false, other_config: {} });
    const targetUuid = (await lab.xapi.getRecord('VDI', target))['uuid'] as string;
    for (const file of [full!.vhd, delta!.vhd]) {
      const result = await lab.xapi.putResource(fileBody(file, (await stat(file)).size), '/import_raw_vdi/', { query: { format: 'vhd', vdi: target }, task: true });
      assert.equal(result, target);
    }
    assert.equal((await lab.admin.digest(targetUuid)).sha256, await sha256File(delta!.raw));
    const record = await lab.xapi.getRecord('VDI', target);
    assert.ok((record['physical_utilisation'] as number) > 0);
  });

  it('import of a stream without a length (the client sends 1 PiB and cuts the socket) ends with the trailing footer', async () => {
    const full = snaps[0]!;
    const sr = (await lab.xapi.getRecord('VDI', live.ref))['SR'];
    const target = await lab.xapi.call<string>('VDI.create', { name_label: 'no length', SR: sr, virtual_size: SIZE, type: 'user', sharable: false, read_only: false, other_config: {} });
    const result = await lab.xapi.putResource(createReadStream(full.vhd), '/import_raw_vdi/', { query: { format: 'vhd', vdi: target }, task: true });
    assert.equal(result, target);
    assert.equal((await lab.admin.digest((await lab.xapi.getRecord('VDI', target))['uuid'] as string)).sha256, await sha256File(full.raw));
  });

  it('import of raw bytes writes the whole disk', async () => {
    const sr = (await lab.xapi.getRecord('VDI', live.ref))['SR'];
    const target = await lab.xapi.call<string>('VDI.create', { name_label: 'raw restore', SR: sr, virtual_size: SIZE, type: 'user', sharable: false, read_only: false, other_config: {} });
    const raw = snaps[1]!.raw;
    assert.equal(await lab.xapi.putResource(fileBody(raw, SIZE), '/import_raw_vdi', { query: { format: 'raw', vdi: target }, task: true }), target);
    assert.equal((await lab.admin.digest((await lab.xapi.getRecord('VDI', target))['uuid'] as string)).sha256, await sha256File(raw));
  });

  it('import writes only the bitmap-marked sectors of allocated blocks', async () => {
    const before = await lab.admin.digest(live.uuid);
    const layout = vhdExportLayout({ virtualSize: SIZE, blockSize: 2 * MiB, uuid: '11111111-2222-4333-8444-555555555555', blocks: [1] });
    const bitmap = Buffer.alloc(512);
    bitmap[0] = 0xff; // sectors 0..7: the first 4 KiB of block 1
    const vhd = Buffer.concat([layout.head, bitmap, Buffer.alloc(2 * MiB, 0xab), layout.footer]);
    const path = join(lab.dir, 'partial.vhd');
    await writeFile(path, vhd);
    const reader = lab.pool.state.disks.openReader(live.uuid);
    const expected = Buffer.from(await reader.readBlock(1));
    reader.close();
    expected.fill(0xab, 0, 4096);
    await lab.xapi.putResource(vhd, '/import_raw_vdi/', { query: { format: 'vhd', vdi: live.ref }, task: true });
    const after = lab.pool.state.disks.openReader(live.uuid);
    assert.deepEqual(await after.readBlock(1), expected);
    after.close();
    assert.notEqual((await lab.admin.digest(live.uuid)).sha256, before.sha256);
  });

  it('a malformed VHD fails the task with VDI_IO_ERROR and changes nothing', async () => {
    const before = await lab.admin.digest(live.uuid);
    const good = await readFile(snaps[0]!.vhd);
    const truncated = good.subarray(0, good.length - 3 * MiB);
    await assert.rejects(
      lab.xapi.putResource(truncated, '/import_raw_vdi/', { query: { format: 'vhd', vdi: live.ref }, task: true }),
      (error: XapiError) => error.code === 'VDI_IO_ERROR',
    );
    const garbage = Buffer.alloc(1 * MiB, 0x42);
    await assert.rejects(
      lab.xapi.putResource(garbage, '/import_raw_vdi/', { query: { format: 'vhd', vdi: live.ref }, task: true }),
      (error: XapiError) => error.code === 'VDI_IO_ERROR' && /cookie/.test(error.params.join(' ')),
    );
    assert.deepEqual(await lab.admin.digest(live.uuid), before);
  });

  it('the empty probe PUT gets 200 and has no side effect; chunked bodies are refused', async () => {
    const tasks = Object.keys(await lab.xapi.call('task.get_all_records')).length;
    const before = await lab.admin.digest(live.uuid);
    const url = `${lab.pool.url}/import_raw_vdi/?format=vhd&vdi=${live.ref}&session_id=${lab.xapi.sessionId}`;
    const probe = await fetch(url, { method: 'PUT', body: '' });
    assert.equal(probe.status, 200);
    const chunked = await fetch(url, { method: 'PUT', body: new Blob([Buffer.alloc(10)]).stream(), duplex: 'half' } as RequestInit);
    assert.equal(chunked.status, 400);
    assert.equal(Object.keys(await lab.xapi.call('task.get_all_records')).length, tasks);
    assert.deepEqual(await lab.admin.digest(live.uuid), before);
  });

  it('answers 401 for a bad session and 404 for an unknown format or VDI, failing the task', async () => {
    const unauthorized = await fetch(`${lab.pool.url}/export_raw_vdi/?format=vhd&vdi=${live.ref}&session_id=OpaqueRef:bad`);
    assert.equal(unauthorized.status, 401);
    for (const query of [{ format: 'qcow2', vdi: live.ref }, { format: 'vhd', vdi: 'OpaqueRef:missing' }]) {
      const pending = lab.xapi.getResource('/export_raw_vdi/', { query, task: true });
      await assert.rejects(pending, (error: Error & { response?: { statusCode: number } }) => error.response?.statusCode === 404);
    }
  });
});

describe('export framing', () => {
  it('"close" sends the body as XAPI does: no length, no chunking, ended by closing the connection', async () => {
    const lab = await startTestLab({ exportFraming: 'close', fleet: { vms: [{ name: 'vm', disks: [{ size: 4 * MiB, fill: 50 }] }] } });
    try {
      const { vdiRef } = await vmDisk(lab.xapi, 'vm');
      const { request } = await import('node:http');
      const url = `${lab.pool.url}/export_raw_vdi?format=vhd&vdi=${vdiRef}&session_id=${lab.xapi.sessionId}`;
      const { headers, body } = await new Promise<{ headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
        request(url, (res) => {
          const parts: Buffer[] = [];
          res.on('data', (chunk: Buffer) => parts.push(chunk));
          res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(parts) }));
          res.on('error', reject);
        })
          .on('error', reject)
          .end();
      });
      assert.equal(headers['connection'], 'close');
      assert.equal(headers['transfer-encoding'], undefined);
      assert.equal(headers['content-length'], undefined);
      assert.equal(body.length, 2560 + 2 * MiB + 512 + 512, 'one block and the structures');
      assert.equal(decodeFooter(body.subarray(body.length - FOOTER_SIZE)).currentSize, 4 * MiB);
    } finally {
      await lab.close();
    }
  });
});

describe('a delta on a 4 GiB disk', () => {
  it('after lab write --pattern clustered --percent 1 carries about 1 % of the disk', async () => {
    const lab = await startTestLab({ fleet: { vms: [{ name: 'big', disks: [{ size: '4GiB', fill: 0.5 }] }] } });
    try {
      const { vmRef, vdi } = await vmDisk(lab.xapi, 'big');
      const first = await snapshotDisk(lab.xapi, await lab.xapi.callAsync<string>('VM.snapshot', vmRef, 'base'));
      const written = await lab.admin.write({ vdi: vdi['uuid'] as string, pattern: 'clustered', percent: 1, seed: 9 });
      const second = await snapshotDisk(lab.xapi, await lab.xapi.callAsync<string>('VM.snapshot', vmRef, 'next'));
      const response = await lab.xapi.getResource('/export_raw_vdi/', { query: { format: 'vhd', vdi: second.vdiRef, base: first.vdiRef }, task: true });
      let bytes = 0;
      const counted = (async function* () {
        for await (const chunk of response.body) {
          bytes += (chunk as Buffer).length;
          yield chunk as Buffer;
        }
      })();
      const parsed = await parseVhdStream(counted);
      assert.equal(parsed.footer.diskType, DiskType.Differencing);
      const reader = lab.pool.state.disks.openReader(second.vdi['uuid'] as string);
      const indexes: number[] = [];
      try {
        for await (const block of parsed.blocks()) {
          indexes.push(block.index);
          assert.deepEqual(block.data, await reader.readBlock(block.index), `block ${block.index}`);
        }
      } finally {
        reader.close();
      }
      assert.equal(await response.task, '');
      const share = bytes / (4 * GiB);
      assert.ok(share >= 0.008 && share <= 0.0125, `the delta is ${(share * 100).toFixed(2)} % of the disk (${bytes} bytes)`);
      assert.equal(indexes.length, written.blocks, 'one block per 2 MiB run written');
    } finally {
      await lab.close();
    }
  });
});
