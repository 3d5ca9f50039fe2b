// GET /export_raw_vdi[/]?vdi=&format=vhd|raw[&base=]&session_id=&task_id= as XAPI serves it
// (ocaml/xapi/export_raw_vdi.ml): 401 for a bad session, 404 for an unknown format or VDI, else
// 200 with a body without a length (framing: http-replies.ts) — a dynamic VHD of the allocated blocks, a differencing VHD of
// the blocks changed since `base` (parent = the base VDI), or the raw bytes — and the task ends
// with result "". Export faults (cut, VDI_IO_ERROR, HTTP-in-body, slow) are injected here.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DiskReader } from '../disk/disk-reader.js';
import type { LabServices } from '../lab-services.js';
import { assertHasData, vdiRefOf } from '../model/vdi-operations.js';
import { dateFromXapiTime } from '../records/xapi-time.js';
import { XapiFailure, sessionInvalid } from '../rpc/xapi-failure.js';
import { toFailure } from '../rpc/rpc-dispatcher.js';
import { rawExportStream, vhdExportStream } from '../vhd/vhd-export-stream.js';
import { vhdExportLayout } from '../vhd/vhd-export-layout.js';
import { HandlerTask } from './handler-task.js';
import { replyText, startStreamBody, type BodyFraming } from './http-replies.js';
import { sendStream } from './send-stream.js';

const IO_ERROR = (): XapiFailure => new XapiFailure('VDI_IO_ERROR', ['Device I/O errors']);

export async function handleExport(lab: LabServices, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const task = new HandlerTask(lab.tasks, url.searchParams.get('task_id'), 'export_raw_vdi');
  const request = parseRequest(lab, url.searchParams);
  if ('status' in request) {
    task.fail(request.failure);
    return replyText(res, request.status, request.message);
  }
  const { format, vdi } = request;
  const headers = {
    'content-type': format === 'vhd' ? 'application/vhd' : 'application/octet-stream',
    'content-disposition': `attachment; filename="${vdi.uuid}.${format}"`,
    'task-id': task.ref,
  };
  if (lab.faults.take('exportHttpPrefix', vdi.uuid) !== undefined) return sendHttpInBody(res, task, headers, lab.options.exportFraming);
  req.socket.setNoDelay(true);
  const reader = lab.state.disks.openReader(vdi.uuid);
  try {
    await streamExport(lab, res, reader, request, task, headers);
  } catch (error) {
    res.destroy();
    task.fail(task.signal.aborted ? new XapiFailure('TASK_CANCELLED', [task.ref]) : error instanceof XapiFailure ? error : IO_ERROR());
    lab.logger?.warn({ err: error, vdi: vdi.uuid }, 'lab export ended early');
  } finally {
    reader.close();
  }
}

/** Streams the body (with the cut / I/O error faults) and ends the task. */
async function streamExport(lab: LabServices, res: ServerResponse, reader: DiskReader, request: ExportRequest, task: HandlerTask, headers: Record<string, string>): Promise<void> {
  const { disks } = lab.state;
  const { vdi, base } = request;
  const layout =
    request.format === 'vhd'
      ? vhdExportLayout({
          virtualSize: reader.virtualSize,
          blockSize: reader.blockSize,
          uuid: vdi.uuid,
          blocks: base === undefined ? disks.allocatedBlocks(vdi.uuid) : disks.changedBlocks(base.uuid, vdi.uuid),
          ...(base === undefined ? {} : { parent: { uuid: base.uuid, name: `${base.uuid}.vhd`, date: base.date } }),
        })
      : undefined;
  const total = layout?.totalBytes ?? reader.virtualSize;
  const cut = lab.faults.take('exportCut', vdi.uuid);
  const ioError = cut === undefined ? lab.faults.take('exportIoError', vdi.uuid) : undefined;
  const limit = (cut ?? ioError)?.afterBytes;
  startStreamBody(res, headers, lab.options.exportFraming);
  const result = await sendStream(res, layout === undefined ? rawExportStream(reader) : vhdExportStream(reader, layout), {
    ...(limit === undefined ? {} : { limit }),
    rate: () => lab.faults.streamRate(),
    signal: AbortSignal.any([task.signal, lab.shutdown]),
    onProgress: (bytes) => task.progress(bytes / total),
  });
  lab.state.served.export += result.bytes;
  if (result.cut && cut !== undefined) {
    res.socket?.resetAndDestroy();
    return task.fail(IO_ERROR());
  }
  await new Promise<void>((resolve) => res.end(resolve));
  if (result.cut) task.fail(IO_ERROR());
  else task.succeed();
}

interface ExportRequest {
  format: 'vhd' | 'raw';
  vdi: { ref: string; uuid: string };
  base: { uuid: string; date: Date } | undefined;
}

interface ExportRefusal {
  status: number;
  message: string;
  failure: XapiFailure;
}

/** Checks the query: 401 for a bad session, 404 for an unknown format or VDI. */
function parseRequest(lab: LabServices, q: URLSearchParams): ExportRequest | ExportRefusal {
  if (!lab.sessions.isValid(q.get('session_id'))) {
    return { status: 401, message: 'Unauthorized', failure: sessionInvalid(String(q.get('session_id'))) };
  }
  const format = q.get('format') ?? 'raw';
  if (format !== 'vhd' && format !== 'raw') {
    return { status: 404, message: `Not found: unknown format ${format}`, failure: new XapiFailure('INTERNAL_ERROR', [`unknown export format ${format}`]) };
  }
  try {
    return { format, ...resolveSource(lab, q.get('vdi'), q.get('base')) };
  } catch (error) {
    const failure = toFailure(error);
    return { status: 404, message: `Not found: ${failure.message}`, failure };
  }
}

type ExportSource = Omit<ExportRequest, 'format'>;

function resolveSource(lab: LabServices, vdiParam: string | null, baseParam: string | null): ExportSource {
  const { records } = lab.state;
  const ref = vdiRefOf(lab.state, vdiParam ?? '');
  const record = records.get('VDI', ref);
  assertHasData(record, ref);
  let base: ExportSource['base'];
  if (baseParam !== null && baseParam !== '') {
    const baseRecord = records.get('VDI', vdiRefOf(lab.state, baseParam));
    const date = dateFromXapiTime(baseRecord['snapshot_time'] as string);
    base = { uuid: baseRecord.uuid, date: Number.isNaN(date.getTime()) || date.getTime() === 0 ? new Date() : date };
  }
  return { vdi: { ref, uuid: record.uuid }, base };
}

/** xapi-project/xen-api#4603: a 200 whose body is itself an HTTP 500 response. */
function sendHttpInBody(res: ServerResponse, task: HandlerTask, headers: Record<string, string>, framing: BodyFraming): void {
  const html =
    '<html><body><h1>HTTP 500 internal server error</h1>An unexpected error occurred; please wait a while and try again. ' +
    'If the problem persists, please contact your support representative.<h1> Additional information </h1>' +
    'SR_BACKEND_FAILURE_46: [ ; The VDI is not available [opterr=VDI not detached cleanly];  ]</body></html>';
  const body =
    `HTTP/1.1 500 Internal Error\r\ncontent-length: ${Buffer.byteLength(html)}\r\ncontent-type:text/html\r\n` +
    `connection:close\r\ncache-control:no-cache, no-store\r\n\r\n${html}`;
  startStreamBody(res, headers, framing);
  res.end(body);
  task.fail(new XapiFailure('SR_BACKEND_FAILURE_46', ['', 'The VDI is not available [opterr=VDI not detached cleanly]', '']));
}
