// Independent VHD implementations used as oracles by the tests: qemu-img (Debian qemu-utils) and
// libvhdi (python3-libvhdi, through Debian's /usr/bin/python3 — the python on PATH may lack it).
// Each helper turns a VHD (or chain) into a raw file, so tests compare whole images by digest.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const SYSTEM_PYTHON = '/usr/bin/python3';

/** Reads a dynamic VHD with qemu-img at its exact `current_size` (see vhd-format.md, Geometry). */
export async function qemuVhdToRaw(vhdPath: string, rawPath: string): Promise<void> {
  const opts = `driver=vpc,force_size_calc=current_size,file.filename=${escapeOpt(vhdPath)}`;
  await run('qemu-img', ['convert', '--image-opts', opts, '-O', 'raw', rawPath]);
}

/**
 * Writes a dynamic VHD of a raw image with qemu-img. `forceSize` keeps the exact size (creator
 * `qem2`); without it qemu rounds the size up to a CHS geometry (creator `qemu`).
 */
export async function qemuRawToVhd(rawPath: string, vhdPath: string, options: { forceSize: boolean }): Promise<void> {
  const o = `subformat=dynamic${options.forceSize ? ',force_size=on' : ''}`;
  await run('qemu-img', ['convert', '-f', 'raw', '-O', 'vpc', '-o', o, rawPath, vhdPath]);
}

const LIBVHDI_SCRIPT = `
import sys, pyvhdi
out_path, paths = sys.argv[1], sys.argv[2:]
files = []
for p in paths:
    f = pyvhdi.file()
    f.open(p)
    files.append(f)
for child, parent in zip(files, files[1:]):
    child.set_parent(parent)
head = files[0]
size = head.get_media_size()
chunk = 4 * 1024 * 1024
with open(out_path, 'wb') as out:
    offset = 0
    while offset < size:
        n = min(chunk, size - offset)
        data = head.read_buffer_at_offset(n, offset)
        if len(data) != n:
            raise SystemExit('short read at %d: %d of %d' % (offset, len(data), n))
        out.write(data)
        offset += n
print(size)
`;

/**
 * Reads a chain with libvhdi, parents set explicitly; `chain` is child first, base last.
 * Returns the media size libvhdi reports.
 */
export async function libvhdiChainToRaw(chain: string[], rawPath: string): Promise<number> {
  const { stdout } = await run(SYSTEM_PYTHON, ['-c', LIBVHDI_SCRIPT, rawPath, ...chain]);
  return Number(stdout.trim());
}

/** The hex sha256 of a file, streamed. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Throws unless both files have the same size and bytes; the message names the first
 * differing offset, which is what one needs to debug a format bug.
 */
export async function assertSameBytes(actualPath: string, expectedPath: string, what = actualPath): Promise<void> {
  const [a, e] = await Promise.all([stat(actualPath), stat(expectedPath)]);
  if (a.size !== e.size) throw new Error(`${what}: ${a.size} bytes, expected ${e.size}`);
  const first = await firstDifference(actualPath, expectedPath, a.size);
  if (first !== undefined) throw new Error(`${what}: differs from ${expectedPath} first at byte ${first}`);
}

async function firstDifference(pathA: string, pathB: string, size: number): Promise<number | undefined> {
  const [fa, fb] = await Promise.all([open(pathA), open(pathB)]);
  const chunk = 1024 * 1024;
  const ba = Buffer.alloc(chunk);
  const bb = Buffer.alloc(chunk);
  try {
    for (let offset = 0; offset < size; offset += chunk) {
      const n = Math.min(chunk, size - offset);
      await Promise.all([fa.read(ba, 0, n, offset), fb.read(bb, 0, n, offset)]);
      if (ba.compare(bb, 0, n, 0, n) !== 0) {
        for (let i = 0; i < n; i++) if (ba[i] !== bb[i]) return offset + i;
      }
    }
    return undefined;
  } finally {
    await Promise.all([fa.close(), fb.close()]);
  }
}

/** qemu --image-opts values escape a comma by doubling it. */
function escapeOpt(value: string): string {
  return value.replace(/,/g, ',,');
}
