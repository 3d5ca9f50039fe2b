// One disk of a restore: the storage agent's GetDisk gives the disk's whole chain as ONE dynamic
// VHD stream of known length; it is piped into XAPI's `PUT /import_raw_vdi` (Content-Length set,
// as XAPI refuses chunked uploads) through a counting transform that keeps backpressure. A
// download failure destroys the upload body, so XAPI's import fails rather than completing short.
import { pipeline, Transform } from 'node:stream';
import type { TransferProgress } from '../backup/transfer-progress.js';
import type { HostXapi } from '../xapi/host-xapi.js';
import type { XapiUploadBody } from '../xapi/xapi-client.js';
import type { XapiRef } from '../xapi/xapi-records.js';
import type { BackupSource, RestoredDisk } from './restore-types.js';

export interface ImportDiskInput {
  vmUuid: string;
  backupId: string;
  diskKey: string;
  vdiRef: XapiRef;
  vdiUuid: string;
}

export async function importDisk(xapi: HostXapi, source: BackupSource, input: ImportDiskInput, progress: TransferProgress): Promise<RestoredDisk> {
  const startedAt = Date.now();
  const download = await source.getDiskVhd(input.vmUuid, input.backupId, input.diskKey);
  progress.expect(0, download.length);
  let bytes = 0;
  const counter = new Transform({
    highWaterMark: 1024 * 1024,
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      progress.add(0, chunk.length);
      done(null, chunk);
    },
  });
  const body = Object.assign(counter, { length: download.length }) as XapiUploadBody;
  let downloadError: unknown;
  pipeline(download.stream, counter, (error) => {
    if (error !== undefined && error !== null) downloadError = error;
  });
  try {
    await xapi.importVdi(input.vdiRef, body);
  } catch (error) {
    throw downloadError ?? error;
  } finally {
    if (!download.stream.destroyed) download.stream.destroy();
  }
  // Once XAPI reported the import done and every byte of the known length went through, the
  // upload is whole; a premature-close the HTTP client raises while tearing the body down after
  // the response (seen under load) says nothing about the data and must not fail the restore.
  if (downloadError !== undefined && !(bytes === download.length && isPrematureClose(downloadError))) throw downloadError;
  return { diskKey: input.diskKey, vdiUuid: input.vdiUuid, bytes, durationMs: Date.now() - startedAt };
}

function isPrematureClose(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'ERR_STREAM_PREMATURE_CLOSE';
}
