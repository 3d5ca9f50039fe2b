// Measures the workload's own costs once: creating a lab disk filled with mixed content, mirroring
// it to a raw file through the raw export, and a 1 % write of each pattern on both sides (checked
// equal by digest). `node --import tsx test/bench/workload/measure-workload.ts [size]` (default 4GiB);
// prints one JSON line. Temp files are removed at the end.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSize } from '../../../lab/pool/index.js';
import type { WritePattern } from '../../../lab/pool/workload/write-plan.js';
import { applyWritesToFile, fileSha256, writeRawMirror } from './raw-mirror.js';
import { startWorkloadLab } from './workload-lab.js';

const MiB = 1024 * 1024;

async function main(): Promise<void> {
  const size = parseSize(process.argv[2] ?? '4GiB');
  const dir = await mkdtemp(join(tmpdir(), 'bench-workload-'));
  try {
    const w = await startWorkloadLab({ state: join(dir, 'lab'), size });
    try {
      const file = join(dir, 'mirror.raw');
      let t = performance.now();
      await writeRawMirror(w.access, w.vdi, file);
      const mirrorSec = (performance.now() - t) / 1000;
      const equal = (await fileSha256(file)) === (await w.admin.digest(w.vdi)).sha256;
      const writes: Record<string, unknown> = {};
      for (const [i, pattern] of (['clustered', 'clustered-64k', 'scattered'] as WritePattern[]).entries()) {
        t = performance.now();
        const lab = await w.admin.write({ vdi: w.vdi, pattern, percent: 1, seed: 10 + i, content: 'mixed' });
        const labSec = (performance.now() - t) / 1000;
        t = performance.now();
        await applyWritesToFile(file, { virtualSize: size, pattern, percent: 1, seed: 10 + i, content: 'mixed' });
        writes[pattern] = { bytes: lab.bytes, extents: lab.extents, blocks: lab.blocks, labSec: round(labSec), fileSec: round((performance.now() - t) / 1000) };
      }
      const equalAfter = (await fileSha256(file)) === (await w.admin.digest(w.vdi)).sha256;
      const mib = size / MiB;
      process.stdout.write(`${JSON.stringify({
        sizeMiB: mib,
        create: { sec: round(w.createSec), mibPerSec: round(mib / w.createSec) },
        rawMirror: { sec: round(mirrorSec), mibPerSec: round(mib / mirrorSec) },
        mirrorEqual: equal,
        writes,
        mirrorEqualAfterWrites: equalAfter,
      })}\n`);
    } finally {
      await w.lab.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

await main();
