// The Block Allocation Table: one big-endian uint32 sector offset per block, BAT_ABSENT for a
// block that is not allocated. Held decoded in a Uint32Array (4 bytes per 2 MiB block: a 2 TiB
// disk's table is 4 MiB).
import { BAT_ABSENT, batSize } from './constants.js';

export function decodeBat(buf: Uint8Array, entries: number): Uint32Array {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const bat = new Uint32Array(entries);
  for (let i = 0; i < entries; i++) bat[i] = view.getUint32(i * 4, false);
  return bat;
}

export function encodeBat(bat: Uint32Array): Buffer {
  const buf = Buffer.alloc(batSize(bat.length), 0xff);
  for (let i = 0; i < bat.length; i++) buf.writeUInt32BE(bat[i]!, i * 4);
  return buf;
}

export function newBat(entries: number): Uint32Array {
  return new Uint32Array(entries).fill(BAT_ABSENT);
}
