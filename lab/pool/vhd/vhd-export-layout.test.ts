import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BAT_ABSENT, DiskType, FOOTER_SIZE, PlatformCode, decodeBat, decodeFooter, decodeHeader } from '../../../shared/vhd/format/index.js';
import { vhdExportLayout } from './vhd-export-layout.js';

const MiB = 1024 * 1024;
const uuid = '0a0b0c0d-1111-4222-8333-444455556666';
const parent = { uuid: 'f0f0f0f0-1111-4222-8333-444455556666', name: 'f0f0f0f0-1111-4222-8333-444455556666.vhd', date: new Date('2024-04-20T12:00:00Z') };

describe('vhdExportLayout', () => {
  it('lays out a dynamic disk as XAPI: footer, header at 512 (BAT at 2048), zeros, BAT, blocks in order, footer', () => {
    const layout = vhdExportLayout({ virtualSize: 5 * MiB + 512, blockSize: 2 * MiB, uuid, blocks: [0, 2] });
    const footer = decodeFooter(layout.head.subarray(0, FOOTER_SIZE));
    assert.equal(footer.diskType, DiskType.Dynamic);
    assert.equal(footer.currentSize, 5 * MiB + 512);
    assert.equal(footer.creatorApplication, 'caml');
    assert.equal(footer.uuid, uuid);
    assert.equal(footer.dataOffset, 512);
    const header = decodeHeader(layout.head.subarray(512, 1536), footer.currentSize);
    assert.equal(header.tableOffset, 2048);
    assert.equal(header.maxTableEntries, 3);
    assert.ok(layout.head.subarray(1536, 2048).every((b) => b === 0));
    const bat = decodeBat(layout.head.subarray(2048), 3);
    assert.deepEqual([...bat], [2560 / 512, BAT_ABSENT, (2560 + 2 * MiB + 512) / 512]);
    assert.equal(layout.head.length, 2560);
    assert.equal(layout.totalBytes, 2560 + 2 * (2 * MiB + 512) + 512);
    assert.deepEqual(layout.footer, layout.head.subarray(0, FOOTER_SIZE));
    assert.ok(layout.bitmap.every((b) => b === 0xff));
  });

  it('lays out a differencing disk with its parent and a MacX locator whose data is zeros', () => {
    const layout = vhdExportLayout({ virtualSize: 4 * MiB, blockSize: 2 * MiB, uuid, blocks: [1], parent });
    const footer = decodeFooter(layout.head.subarray(0, FOOTER_SIZE));
    assert.equal(footer.diskType, DiskType.Differencing);
    const header = decodeHeader(layout.head.subarray(512, 1536), footer.currentSize);
    assert.equal(header.parentUuid, parent.uuid);
    assert.equal(header.parentUnicodeName, parent.name);
    assert.equal(header.parentTimestamp, Math.floor(parent.date.getTime() / 1000) - 946684800);
    const locator = header.parentLocators[0]!;
    assert.equal(locator.platformCode, PlatformCode.MacX);
    assert.equal(locator.platformDataOffset, 2560);
    assert.equal(locator.platformDataLength, Buffer.byteLength(`file://./${parent.name}`));
    assert.equal(locator.platformDataSpace, 1, 'in sectors');
    assert.ok(layout.head.subarray(2560, 3072).every((b) => b === 0));
    assert.deepEqual([...decodeBat(layout.head.subarray(2048), 2)], [BAT_ABSENT, 3072 / 512]);
  });
});
