// The raw-file twin of a lab disk, for benchmarking tools that back up "the same raw image from a
// file" (restic, borg): `writeRawMirror` copies a VDI's whole content out of the lab through its
// real raw export (export_raw_vdi format=raw, after session.login_with_password), and
// `applyWritesToFile` then changes the file exactly as `POST /lab/write` with the same arguments
// changes the lab disk — the same planWrites and the same content function, so both stay
// byte-identical (checked against the lab's digest with `fileSha256`).
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { get, type IncomingMessage } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { contentSource, type ContentKind } from '../../../lab/pool/workload/content-kind.js';
import { planWrites, type WritePattern } from '../../../lab/pool/workload/write-plan.js';

export interface LabAccess {
  /** `http://host:port` of the lab pool (no credentials). */
  url: string;
  user: string;
  password: string;
}

/** Bytes written per pwrite: one lab block, like the lab's own writer. */
const CHUNK = 2 * 1024 * 1024;

/** Writes the VDI's whole content (virtual size) to `file` from the lab's raw export (export_raw_vdi
 *  format=raw over HTTP with the lab's credentials). Fails when the body is not the virtual size. */
export async function writeRawMirror(lab: LabAccess, vdiUuid: string, file: string): Promise<void> {
  const session = await rpc<string>(lab, 'session.login_with_password', [lab.user, lab.password, '1.0', 'deltachain-bench']);
  try {
    const vdiRef = await rpc<string>(lab, 'VDI.get_by_uuid', [session, vdiUuid]);
    const virtualSize = Number(await rpc<string | number>(lab, 'VDI.get_virtual_size', [session, vdiRef]));
    const url = new URL('/export_raw_vdi', lab.url);
    url.search = new URLSearchParams({ vdi: vdiUuid, format: 'raw', session_id: session }).toString();
    const body = await httpGet(url);
    if (body.statusCode !== 200) {
      body.resume();
      throw new Error(`raw export of VDI ${vdiUuid} from ${lab.url}: HTTP ${body.statusCode} ${body.statusMessage ?? ''}`);
    }
    const out = createWriteStream(file, { highWaterMark: 4 * 1024 * 1024 });
    await pipeline(body, out);
    if (out.bytesWritten !== virtualSize) {
      throw new Error(`raw export of VDI ${vdiUuid}: got ${out.bytesWritten} bytes, the virtual size is ${virtualSize}`);
    }
    const handle = await open(file, 'r+');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } finally {
    await rpc(lab, 'session.logout', [session]).catch(() => undefined);
  }
}

export interface FileWriteOptions {
  /** Bytes; must be the file's size (the mirrored VDI's virtual size). */
  virtualSize: number;
  pattern: WritePattern;
  /** Share of the disk, 0 < percent ≤ 100. */
  percent: number;
  seed: number;
  content: ContentKind;
}

/** Applies to `file` exactly the writes `POST /lab/write` with the same arguments makes to the lab
 *  disk (same planWrites + same content function), in place (pwrite, fsync at end). */
export async function applyWritesToFile(file: string, o: FileWriteOptions): Promise<{ bytes: number; extents: number }> {
  const extents = planWrites({ pattern: o.pattern, virtualSize: o.virtualSize, percent: o.percent, seed: o.seed });
  const bytesAt = contentSource(o.content, o.seed);
  const handle = await open(file, 'r+');
  try {
    const { size } = await handle.stat();
    if (size !== o.virtualSize) throw new Error(`${file} holds ${size} bytes, not the virtual size ${o.virtualSize}: not a mirror of that disk`);
    let bytes = 0;
    for (const extent of extents) {
      for (let done = 0; done < extent.length; done += CHUNK) {
        const length = Math.min(CHUNK, extent.length - done);
        const buffer = bytesAt(extent.offset + done, length);
        await handle.write(buffer, 0, length, extent.offset + done);
        bytes += length;
      }
    }
    await handle.sync();
    return { bytes, extents: extents.length };
  } finally {
    await handle.close();
  }
}

/** sha256 of a file, streamed. */
export async function fileSha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 4 * 1024 * 1024 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** A plain GET (node:http: streams the body with less overhead than fetch's web streams). */
function httpGet(url: URL): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => get(url, resolve).on('error', reject));
}

/** One XAPI JSON-RPC call; XAPI failures become errors naming the code and parameters. */
async function rpc<T>(lab: LabAccess, method: string, params: unknown[]): Promise<T> {
  const response = await fetch(new URL('/jsonrpc', lab.url), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', method, params, id: 1 }),
  });
  const reply = (await response.json()) as { result?: T; error?: { message: string; data?: unknown[] } };
  if (reply.error !== undefined) throw new Error(`${method} on ${lab.url}: ${reply.error.message} ${JSON.stringify(reply.error.data ?? [])}`);
  return reply.result as T;
}
