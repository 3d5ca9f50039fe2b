// PUT /import_raw_vdi[/]?vdi=&format=vhd|raw&session_id=&task_id= as XAPI serves it
// (ocaml/xapi/import_raw_vdi.ml): chunked bodies are refused; an empty body (the xen-api
// client's probe before a stream) gets 200 and changes nothing; otherwise 200 headers go out
// before the body is read, and the body is written through one copy-on-write writer — for VHD
// only the bitmap-marked sectors of allocated blocks, so a full then its deltas imported in order
// rebuild the disk. The task ends with the VDI ref, or VDI_IO_ERROR (nothing written). Blocks are
// borrowed from the parser's one buffer (reuseBuffers): each is written, or copied into the
// writer's open block, before the next is parsed.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseVhdStream, SECTOR_SIZE, VhdFormatError, isSectorMarked } from '../../../shared/vhd/index.js';
import type { DiskWriter } from '../disk/disk-writer.js';
import type { LabServices } from '../lab-services.js';
import { refreshUtilisation, vdiRefOf } from '../model/vdi-operations.js';
import { toFailure } from '../rpc/rpc-dispatcher.js';
import { XapiFailure, sessionInvalid } from '../rpc/xapi-failure.js';
import { HandlerTask } from './handler-task.js';
import { replyText, startStreamBody } from './http-replies.js';
import { RequestBody } from './request-body.js';

/** Content-Length the xen-api client sends for a stream without a length (1 PiB). */
const UNKNOWN_LENGTH = 2 ** 50;

export async function handleImport(lab: LabServices, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const q = url.searchParams;
  if (/chunked/i.test(req.headers['transfer-encoding'] ?? '')) {
    return replyText(res, 400, 'chunked transfer encoding is not supported: send a Content-Length');
  }
  if (!lab.sessions.isValid(q.get('session_id'))) {
    if (q.get('task_id') !== null && lab.tasks.exists(q.get('task_id')!)) lab.tasks.fail(q.get('task_id')!, sessionInvalid(String(q.get('session_id'))));
    return replyText(res, 401, 'Unauthorized');
  }
  const length = Number(req.headers['content-length'] ?? 0);
  if (length === 0) return replyText(res, 200, '');
  const format = q.get('format') ?? 'raw';
  let vdiRef: string;
  try {
    if (format !== 'vhd' && format !== 'raw') throw new XapiFailure('INTERNAL_ERROR', [`unknown import format ${format}`]);
    vdiRef = vdiRefOf(lab.state, q.get('vdi') ?? '');
  } catch (error) {
    if (q.get('task_id') !== null && lab.tasks.exists(q.get('task_id')!)) lab.tasks.fail(q.get('task_id')!, toFailure(error));
    return replyText(res, 404, `Not found: ${(error as Error).message}`);
  }
  const task = new HandlerTask(lab.tasks, q.get('task_id'), 'import_raw_vdi');
  startStreamBody(res, { 'content-type': 'text/plain', 'task-id': task.ref });
  const uuid = lab.state.records.get('VDI', vdiRef).uuid;
  const signal = AbortSignal.any([task.signal, lab.shutdown]);
  const body = new RequestBody(req, () => lab.faults.streamRate(), signal);
  let writer: DiskWriter | undefined;
  try {
    writer = await lab.state.disks.openWriter(uuid);
    if (format === 'vhd') await importVhd(writer, body, `import into VDI ${uuid}`, (done) => task.progress(done));
    else await importRaw(writer, body, length, (done) => task.progress(done));
    await writer.commit();
    refreshUtilisation(lab.state, vdiRef);
    await lab.state.save();
    task.succeed(vdiRef);
  } catch (error) {
    writer?.abort();
    lab.logger?.warn({ err: error, vdi: uuid }, 'lab import failed');
    task.fail(signal.aborted ? new XapiFailure('TASK_CANCELLED', [task.ref]) : importFailure(error));
  } finally {
    res.end();
  }
}

async function importVhd(writer: DiskWriter, body: RequestBody, where: string, progress: (fraction: number) => void): Promise<void> {
  const vhd = await parseVhdStream(body, { where, reuseBuffers: true });
  const size = vhd.footer.currentSize;
  if (size > writer.virtualSize) throw new XapiFailure('VDI_TOO_SMALL', [where, String(size)]);
  const blockSize = vhd.header.blockSize;
  const total = [...vhd.bat].filter((e) => e !== 0xffffffff).length || 1;
  let done = 0;
  for await (const block of vhd.blocks()) {
    if (block.index * blockSize < size) {
      if (blockSize === writer.blockSize) await writer.writeMarkedSectors(block.index, block.bitmap, block.data);
      else await writeSectorRuns(writer, block.index * blockSize, block.bitmap, block.data, size);
    }
    progress(++done / total);
  }
}

/** Marked sectors of a block whose size differs from the store's, by absolute offset. */
async function writeSectorRuns(writer: DiskWriter, start: number, bitmap: Buffer, data: Buffer, size: number): Promise<void> {
  const sectors = data.length / SECTOR_SIZE;
  for (let s = 0; s < sectors; ) {
    if (!isSectorMarked(bitmap, s)) {
      s++;
      continue;
    }
    let end = s + 1;
    while (end < sectors && isSectorMarked(bitmap, end)) end++;
    const from = start + s * SECTOR_SIZE;
    const length = Math.min((end - s) * SECTOR_SIZE, size - from);
    if (length > 0) await writer.writeAt(from, data.subarray(s * SECTOR_SIZE, s * SECTOR_SIZE + length));
    s = end;
  }
}

async function importRaw(writer: DiskWriter, body: RequestBody, length: number, progress: (fraction: number) => void): Promise<void> {
  const expected = length >= UNKNOWN_LENGTH ? undefined : length;
  if (expected !== undefined && expected > writer.virtualSize) {
    throw new XapiFailure('VDI_TOO_SMALL', [writer.vdiUuid, String(expected)]);
  }
  let offset = 0;
  for await (const chunk of body) {
    if (offset + chunk.length > writer.virtualSize) throw new XapiFailure('VDI_TOO_SMALL', [writer.vdiUuid, String(offset + chunk.length)]);
    await writer.writeAt(offset, chunk);
    offset += chunk.length;
    progress(offset / (expected ?? writer.virtualSize));
  }
  if (expected !== undefined && offset !== expected) {
    throw new XapiFailure('VDI_IO_ERROR', ['Device I/O errors', `raw body ended after ${offset} of ${expected} bytes`]);
  }
}

function importFailure(error: unknown): XapiFailure {
  if (error instanceof VhdFormatError) return new XapiFailure('VDI_IO_ERROR', ['Device I/O errors', error.message]);
  return toFailure(error);
}
