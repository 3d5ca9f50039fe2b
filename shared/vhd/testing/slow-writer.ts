// Test fixture program (not library code): writes blocks to a VhdWriter until it is killed,
// printing the temporary path once some blocks are written. Used to prove that a killed writer
// leaves no file under the final name. Usage: node --import tsx slow-writer.ts <path>
import { setTimeout as sleep } from 'node:timers/promises';
import { DiskType } from '../format/index.js';
import { VhdWriter } from '../vhd-writer.js';

const path = process.argv[2]!;
const blockSize = 64 * 1024;
const writer = await VhdWriter.create({
  path,
  diskType: DiskType.Dynamic,
  currentSize: 1024 * blockSize,
  uuid: '33333333-4444-4555-8666-777777777777',
  blockSize,
});
for (let i = 0; i < 1024; i++) {
  await writer.writeBlock(i, Buffer.alloc(blockSize, i & 0xff));
  if (i === 3) process.stdout.write(`${writer.tempPath}\n`);
  await sleep(5);
}
await writer.finish();
