import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DiskType,
  VhdFormatError,
  decodeFooter,
  decodeHeader,
  decodeBat,
  encodeBat,
  encodeFooter,
  encodeHeader,
  newFooter,
  newHeader,
  newBat,
  computeGeometry,
  isFullyMarked,
  isEmpty,
  markSector,
  isSectorMarked,
} from './index.js';

const UUID = '0b0a5f3e-6c1d-4a57-9d44-3a2a7b8e9f10';

describe('VHD footer', () => {
  it('round-trips with a valid checksum and an exact size', () => {
    const footer = newFooter({ diskType: DiskType.Dynamic, currentSize: 10 * 1024 * 1024 + 512, uuid: UUID });
    const decoded = decodeFooter(encodeFooter(footer));
    assert.deepEqual(decoded, footer);
    assert.equal(decoded.currentSize, 10 * 1024 * 1024 + 512);
  });

  it('rejects a flipped byte with the checksum named', () => {
    const buf = encodeFooter(newFooter({ diskType: DiskType.Dynamic, currentSize: 1 << 20, uuid: UUID }));
    buf[100] ^= 1;
    assert.throws(() => decodeFooter(buf, 'footer at offset 0'), (e: unknown) => {
      assert.ok(e instanceof VhdFormatError);
      assert.match(e.message, /footer at offset 0: bad checksum/);
      return true;
    });
  });

  it('rejects a wrong cookie and truncation', () => {
    const buf = encodeFooter(newFooter({ diskType: DiskType.Dynamic, currentSize: 1 << 20, uuid: UUID }));
    assert.throws(() => decodeFooter(buf.subarray(0, 100)), /truncated/);
    buf.write('notvhd!!', 0, 'latin1');
    assert.throws(() => decodeFooter(buf), /bad cookie/);
  });

  it('computes the specification geometry', () => {
    // 127 MiB: 260096 sectors → 17 sectors/track path is left for 31.
    const g = computeGeometry(127 * 1024 * 1024);
    assert.equal(g.cylinders * g.heads * g.sectorsPerTrack <= (127 * 1024 * 1024) / 512, true);
    assert.deepEqual(computeGeometry(3 * 1024 ** 4), { cylinders: 65535, heads: 16, sectorsPerTrack: 255 });
  });
});

describe('VHD dynamic header', () => {
  it('round-trips the parent name in UTF-16 big-endian', () => {
    const header = newHeader({
      tableOffset: 1536,
      maxTableEntries: 5,
      blockSize: 2 * 1024 * 1024,
      parentUuid: UUID,
      parentTimestamp: 1234,
      parentUnicodeName: './20260101T000000Z-é.vhd',
    });
    const buf = encodeHeader(header);
    assert.equal(buf.readUInt16BE(64), './20260101T000000Z-é.vhd'.charCodeAt(0));
    assert.deepEqual(decodeHeader(buf, 10 * 1024 * 1024), header);
  });

  it('rejects block sizes that are not a power of two, and tables too small', () => {
    const bad = encodeHeader(newHeader({ tableOffset: 1536, maxTableEntries: 5, blockSize: 3 * 1024 * 1024 }));
    assert.throws(() => decodeHeader(bad, 10 * 1024 * 1024), /not a power of two/);
    const small = encodeHeader(newHeader({ tableOffset: 1536, maxTableEntries: 2, blockSize: 2 * 1024 * 1024 }));
    assert.throws(() => decodeHeader(small, 10 * 1024 * 1024), /needs 5/);
  });
});

describe('BAT and bitmaps', () => {
  it('round-trips big-endian entries', () => {
    const bat = newBat(130);
    bat[3] = 0x1234;
    const buf = encodeBat(bat);
    assert.equal(buf.length, 1024);
    assert.equal(buf.readUInt32BE(12), 0x1234);
    assert.deepEqual(decodeBat(buf, 130), bat);
  });

  it('marks sectors most significant bit first', () => {
    const bitmap = Buffer.alloc(512);
    markSector(bitmap, 0);
    markSector(bitmap, 9);
    assert.equal(bitmap[0], 0x80);
    assert.equal(bitmap[1], 0x40);
    assert.ok(isSectorMarked(bitmap, 9));
    assert.ok(!isSectorMarked(bitmap, 8));
    assert.ok(!isFullyMarked(bitmap, 4096));
    assert.ok(isEmpty(Buffer.alloc(512), 4096));
    assert.ok(isFullyMarked(Buffer.alloc(512, 0xff), 4096));
  });
});
