// The bench workload: a lab disk filled with `mixed` content and its raw-file mirror stay
// byte-identical through the raw export and through 1 % writes of each pattern; the mixed content
// compresses like a real disk and holds zero regions; clustered-64k writes whole aligned 64 KiB runs.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { LabAdminClient, startLabPool, type LabPool } from '../lab/pool/index.js';
import { contentSource } from '../lab/pool/workload/content-kind.js';
import { MixedContent, REGION_SIZE } from '../lab/pool/workload/mixed-content.js';
import { planWrites, type WritePattern } from '../lab/pool/workload/write-plan.js';
import { applyWritesToFile, fileSha256, writeRawMirror } from './bench/workload/raw-mirror.js';

const MiB = 1024 * 1024;
const SIZE = 64 * MiB;

describe('bench workload: mixed lab disk and its raw mirror', () => {
  let dir: string;
  let lab: LabPool;
  let admin: LabAdminClient;
  let vdi: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bench-workload-test-'));
    lab = await startLabPool({
      config: { state: join(dir, 'lab'), seed: 3, fleet: { vms: [{ name: 'bench', disks: [{ size: SIZE, fill: 100, content: 'mixed' }] }] } },
    });
    admin = new LabAdminClient(lab.url, { user: lab.user, password: lab.password });
    vdi = (await admin.state()).vms[0]!.disks[0]!.vdi;
  });
  after(async () => {
    await lab?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('mirrors the disk through the raw export, then stays equal through each pattern written to both', async () => {
    const file = join(dir, 'mirror.raw');
    await writeRawMirror({ url: lab.url, user: lab.user, password: lab.password }, vdi, file);
    assert.equal(await fileSha256(file), (await admin.digest(vdi)).sha256, 'mirror equals the lab disk');
    const patterns: WritePattern[] = ['clustered', 'clustered-64k', 'scattered'];
    for (const [i, pattern] of patterns.entries()) {
      const seed = 100 + i;
      const onLab = await admin.write({ vdi, pattern, percent: 1, seed, content: 'mixed' });
      assert.equal(onLab.content, 'mixed');
      const onFile = await applyWritesToFile(file, { virtualSize: SIZE, pattern, percent: 1, seed, content: 'mixed' });
      assert.deepEqual(onFile, { bytes: onLab.bytes, extents: onLab.extents }, `${pattern}: same writes`);
      assert.ok(onFile.bytes > 0 && onFile.bytes <= Math.max(SIZE * 0.02, 2 * MiB), `${pattern}: about 1 %, at least one run (${onFile.bytes} bytes)`);
      assert.equal(await fileSha256(file), (await admin.digest(vdi)).sha256, `${pattern}: mirror still equals the lab disk`);
    }
  });

  it('refuses an unknown content kind', async () => {
    await assert.rejects(admin.write({ vdi, pattern: 'scattered', percent: 1, seed: 1, content: 'fancy' as 'mixed' }), /content/);
  });
});

describe('mixed content', () => {
  it('compresses like a real disk and holds zero, text and random regions', () => {
    const bytes = contentSource('mixed', 11)(0, 4 * MiB);
    const ratio = gzipSync(bytes).length / bytes.length;
    assert.ok(ratio > 0.35 && ratio < 0.75, `gzip ratio ${ratio.toFixed(3)}`);
    const kinds = new Set<string>();
    const mixed = new MixedContent(11);
    for (let r = 0; r < bytes.length / REGION_SIZE; r++) {
      const region = bytes.subarray(r * REGION_SIZE, (r + 1) * REGION_SIZE);
      const kind = mixed.regionKind(r);
      kinds.add(kind);
      if (kind === 'zeros') assert.ok(region.every((b) => b === 0), `region ${r} is zeros`);
      else assert.ok(region.some((b) => b !== 0), `region ${r} (${kind}) has data`);
      if (kind === 'text') {
        const ratioText = gzipSync(region).length / region.length;
        assert.ok(ratioText < 0.45, `text region ${r} gzip ratio ${ratioText.toFixed(3)}`);
      }
    }
    assert.deepEqual([...kinds].sort(), ['random', 'text', 'zeros']);
  });

  it('is deterministic and position-addressable at any offset', () => {
    const bytesAt = contentSource('mixed', 5);
    const whole = bytesAt(0, 1 * MiB);
    assert.ok(bytesAt(12345 * 16, 200_000).equals(whole.subarray(12345 * 16, 12345 * 16 + 200_000)));
    assert.ok(bytesAt(4096 * 7 + 100, 5000).equals(whole.subarray(4096 * 7 + 100, 4096 * 7 + 5100)));
    assert.ok(!contentSource('mixed', 6)(0, 1 * MiB).equals(whole), 'seed matters');
  });

  it('clustered-64k writes whole 64 KiB-aligned runs', () => {
    const extents = planWrites({ pattern: 'clustered-64k', virtualSize: SIZE, percent: 1, seed: 9 });
    assert.ok(extents.length >= 10);
    for (const e of extents) {
      assert.equal(e.offset % (64 * 1024), 0);
      assert.equal(e.length, 64 * 1024);
    }
  });
});
