// A `.sums` file of version 1 (docs/remote-format.md §6: 36-byte entries, no flags), as storage
// agents of remote format version 1 wrote them: what "a v1 .sums still reads" tests start from.
import { createHash } from 'node:crypto';
import type { SumsEntry } from '../../shared/sums/index.js';

export function encodeSumsV1(blockSize: number, entries: readonly SumsEntry[]): Buffer {
  const out = Buffer.alloc(32 + entries.length * 36 + 32);
  out.write('DCSUMS\r\n', 0, 'latin1');
  out.writeUInt32BE(1, 8);
  out.writeUInt32BE(blockSize, 12);
  out.writeUInt32BE(entries.length, 16);
  entries.forEach((entry, k) => {
    out.writeUInt32BE(entry.index, 32 + k * 36);
    entry.checksum.copy(out, 32 + k * 36 + 4);
  });
  createHash('sha256').update(out.subarray(0, out.length - 32)).digest().copy(out, out.length - 32);
  return out;
}
