// An export stream that broke after it started: the connection to the pool was cut (a reset, a
// timeout) or the pool stopped sending (XAPI's task then names why, often VDI_IO_ERROR). Both are
// worth exporting the disk again from the same snapshot, so it is retryable; the side is the
// network when the stream died of a connection error, the pool otherwise. XAPI's own verdict,
// when it gave one promptly, is kept in the message (and as `verdict`).
import { DeltachainError, type FailureSide } from '../../../shared/errors.js';
import { isNetworkCode } from '../xapi/classify-xapi-error.js';
import type { XapiCallError } from '../xapi/xapi-call-error.js';

export class ExportInterruptedError extends DeltachainError {
  override name = 'ExportInterruptedError';
  readonly vdiUuid: string;
  readonly verdict: XapiCallError | undefined;

  constructor(vdiUuid: string, diskKey: string, streamError: unknown, verdict: XapiCallError | undefined, progress: string) {
    const side: FailureSide = isNetworkCode(networkCodeOf(streamError) ?? '') ? 'network' : 'pool';
    const said = verdict === undefined ? '' : `; XAPI's task reported ${verdict.xapiCode}(${verdict.params.join(', ')})`;
    const advice =
      side === 'network'
        ? 'the connection to the pool was cut; the disk is exported again from the same snapshot (if this repeats, check the network between the host agent and the pool master)'
        : 'the pool stopped sending the disk; it is exported again from the same snapshot (if this repeats, check the SR health on the pool)';
    super('EXPORT_INTERRUPTED', `export of VDI ${vdiUuid} (disk ${diskKey}) broke after ${progress}: ${describe(streamError)}${said} — ${advice}`, {
      cause: streamError,
      retryable: true,
      side,
    });
    this.vdiUuid = vdiUuid;
    this.verdict = verdict;
  }
}

/** A connection error's code (ECONNRESET …) on the error or along its cause chain. */
export function networkCodeOf(error: unknown): string | undefined {
  for (let at: unknown = error, depth = 0; typeof at === 'object' && at !== null && depth < 8; at = (at as { cause?: unknown }).cause, depth++) {
    const code = (at as { code?: unknown }).code;
    if (typeof code === 'string' && isNetworkCode(code)) return code;
  }
  return undefined;
}

function describe(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = networkCodeOf(error);
  return code === undefined || message.includes(code) ? message : `${message} (${code})`;
}
