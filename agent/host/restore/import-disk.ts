// One disk of a restore: the storage agent's GetDisk gives the disk's whole chain as ONE dynamic
// VHD stream of known length; it is piped into XAPI's `PUT /import_raw_vdi` (Content-Length set,
// as XAPI refuses chunked uploads) through a counting transform that keeps backpressure. A
// download failure destroys the upload body, so XAPI's import fails rather than completing short.
// With an expected chain digest the stream first passes a ChainDigestGate, which releases the
// closing footer only once the digest matched: a disk that is not what was backed up never
// completes its import. Failures on the data (a mismatch, the storage agent's DATA_LOSS) name the
// backup and disk and are not retried.
import { pipeline, Transform } from 'node:stream';
import { DeltachainError } from '../../../shared/errors.js';
import type { TransferProgress } from '../backup/transfer-progress.js';
import type { HostXapi } from '../xapi/host-xapi.js';
import type { XapiUploadBody } from '../xapi/xapi-client.js';
import type { XapiRef } from '../xapi/xapi-records.js';
import { ChainDigestGate } from './chain-digest-gate.js';
import { RestoreDataDamagedError, RestoreDigestMismatchError, RestoreStreamInvalidError, type RestoredDiskName } from './restore-errors.js';
import type { BackupSource, RestoredDisk } from './restore-types.js';

export interface ImportDiskInput {
  vmUuid: string;
  backupId: string;
  diskKey: string;
  vdiRef: XapiRef;
  vdiUuid: string;
  /** The chain digest the disk must have (32 bytes); undefined: not checked here. */
  expectedDigest?: Uint8Array;
}

export async function importDisk(xapi: HostXapi, source: BackupSource, input: ImportDiskInput, progress: TransferProgress): Promise<RestoredDisk> {
  const startedAt = Date.now();
  const name: RestoredDiskName = { vmUuid: input.vmUuid, backupId: input.backupId, diskKey: input.diskKey, remoteId: source.remoteId };
  const download = await source.getDiskVhd(input.vmUuid, input.backupId, input.diskKey).catch((error: unknown) => {
    throw dataError(name, error);
  });
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
  const gate = input.expectedDigest === undefined ? undefined : new ChainDigestGate({
    length: download.length,
    expected: input.expectedDigest,
    rule: download.checksumRule ?? 'whole',
    where: `disk ${input.diskKey} of backup ${input.backupId}`,
    mismatch: (expected, actual) => new RestoreDigestMismatchError(name, expected, actual),
    invalid: (cause) => new RestoreStreamInvalidError(name, cause),
  });
  const body = Object.assign(counter, { length: download.length }) as XapiUploadBody;
  let downloadError: unknown;
  const onEnd = (error: Error | null | undefined) => {
    if (error !== undefined && error !== null) downloadError ??= error;
  };
  // Heard directly too: XAPI may report the broken upload before the pipeline reports why.
  download.stream.on('error', onEnd);
  if (gate === undefined) pipeline(download.stream, counter, onEnd);
  else pipeline(download.stream, gate, counter, onEnd);
  try {
    await xapi.importVdi(input.vdiRef, body);
  } catch (error) {
    throw gate?.failure ?? dataError(name, downloadError ?? error);
  } finally {
    if (!download.stream.destroyed) download.stream.destroy();
  }
  if (gate?.failure !== undefined) throw gate.failure;
  // Once XAPI reported the import done and every byte of the known length went through, the
  // upload is whole; a premature-close the HTTP client raises while tearing the body down after
  // the response (seen under load) says nothing about the data and must not fail the restore.
  if (downloadError !== undefined && !(bytes === download.length && isPrematureClose(downloadError))) throw dataError(name, downloadError);
  return { diskKey: input.diskKey, vdiUuid: input.vdiUuid, bytes, durationMs: Date.now() - startedAt, digestChecked: gate?.matched === true };
}

/** A failure the storage agent blamed on the stored data (DATA_LOSS) becomes DATA_DAMAGED naming the disk. */
function dataError(name: RestoredDiskName, error: unknown): unknown {
  if (!(error instanceof DeltachainError) || error.side !== 'data') return error;
  if (error instanceof RestoreDigestMismatchError || error instanceof RestoreDataDamagedError) return error;
  return new RestoreDataDamagedError(name, error);
}

function isPrematureClose(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'ERR_STREAM_PREMATURE_CLOSE';
}
