// GET /export_raw_vdi[/]?vdi=&format=vhd|raw[&base=]&session_id=&task_id= as XAPI serves it
// (ocaml/xapi/export_raw_vdi.ml): 401 for a bad session, 404 for an unknown format or VDI, else
// 200 with a body without a length (framing: http-replies.ts) — a dynamic VHD of the allocated blocks, a differencing VHD of
// the blocks changed since `base` (parent = the base VDI), or the raw bytes — and the task ends
// with result "". Export faults (cut, VDI_IO_ERROR, HTTP-in-body, slow) are injected here.
import type { IncomingMessage, ServerResponse } from 'node:http';
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
  const q = url.searchParams;
  const task = new HandlerTask(lab.tasks, q.get('task_id'), `export_raw_vdi`);
  if (!lab.sessions.isValid(q.get('session_id'))) {
    task.fail(sessionInvalid(String(q.get('session_id'))));
    return replyText(res, 401, 'Unauthorized');
  }
  const format = q.get('format') ?? 'raw';
  if (format !== 'vhd' && format !== 'raw') {
    task.fail(new XapiFailure('INTERNAL_ERROR', [`unknown export format ${format}`]));
    return replyText(res, 404, `Not found: unknown format ${format}`);
  }
  let source;
  try {
    source = resolveSource(lab, q.get('vdi'), q.get('base'));
  } catch (error) {
    task.fail(error);
    return replyText(res, 404, `Not found: ${(error as Error).message}`);
  }
  const { vdi, base } = source;
  const headers = {
    'content-type': format === 'vhd' ? 'application/vhd' : 'application/octet-stream',
    'content-disposition': `attachment; filename="${vdi.uuid}.${format}"`,
    'task-id': task.ref,
  };
  if (lab.faults.take('exportHttpPrefix', vdi.uuid) !== undefined) return sendHttpInBody(res, task, headers, lab.options.exportFraming);
  const reader = lab.state.disks.openReader(vdi.uuid);
  try {
    const layout =
      format === 'vhd'
        ? vhdExportLayout({
            virtualSize: reader.virtualSize,
            blockSize: reader.blockSize,
            uuid: vdi.uuid,
            blocks: base === undefined ? lab.state.disks.allocatedBlocks(vdi.uuid) : lab.state.disks.changedBlocks(base.uuid, vdi.uuid),
            ...(base === undefined ? {} : { parent: { uuid: base.uuid, name: `${base.uuid}.vhd`, date: base.date } }),
          })
        : undefined;
    const total = layout?.totalBytes ?? reader.virtualSize;
    const cut = lab.faults.take('exportCut', vdi.uuid);
    const ioError = cut === undefined ? lab.faults.take('exportIoError', vdi.uuid) : undefined;
    req.socket.setNoDelay(true);
    startStreamBody(res, headers, lab.options.exportFraming);
    const result = await sendStream(res, layout === undefined ? rawExportStream(reader) : vhdExportStream(reader, layout), {
      ...((cut ?? ioError) === undefined ? {} : { limit: (cut ?? ioError)!.afterBytes }),
      rate: () => lab.faults.streamRate(),
      signal: AbortSignal.any([task.signal, lab.shutdown]),
      onProgress: (bytes) => task.progress(bytes / total),
    });
    if (result.cut && cut !== undefined) {
      res.socket?.resetAndDestroy();
      task.fail(IO_ERROR());
    } else {
      await new Promise<void>((resolve) => res.end(resolve));
      if (result.cut) task.fail(IO_ERROR());
      else task.succeed();
    }
  } catch (error) {
    res.destroy();
    task.fail(task.signal.aborted ? new XapiFailure('TASK_CANCELLED', [task.ref]) : error instanceof XapiFailure ? error : IO_ERROR());
    lab.logger?.warn({ err: error, vdi: vdi.uuid }, 'lab export ended early');
  } finally {
    reader.close();
  }
}

interface ExportSource {
  vdi: { ref: string; uuid: string };
  base: { uuid: string; date: Date } | undefined;
}

function resolveSource(lab: LabServices, vdiParam: string | null, baseParam: string | null): ExportSource {
  const { records } = lab.state;
  try {
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
  } catch (error) {
    throw toFailure(error);
  }
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
