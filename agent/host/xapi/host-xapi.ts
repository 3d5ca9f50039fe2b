// The host agent's door to one pool: every XAPI call and transfer goes through here, so the
// cross-cutting rules live in one place —
//   * at most `callLimit` RPC calls in flight (the pool is shared with everything else);
//   * transient failures are retried with jittered backoff; calls that change state are retried
//     only when XAPI itself said nothing happened (a coded transient error), never after a lost
//     connection, which could have applied them;
//   * every failure leaves as an XapiCallError with XAPI's code and parameters.
// SESSION_INVALID re-login is the `xen-api` client's job (it logs in again once).
import type { Logger } from '../../../shared/logging/index.js';
import { Semaphore } from '../concurrency/semaphore.js';
import { guardExportBody } from './http-in-body.js';
import { retryWithBackoff, DEFAULT_RETRY, type RetryOptions } from './retry-with-backoff.js';
import { XapiCallError } from './xapi-call-error.js';
import type { XapiClient, XapiUploadBody } from './xapi-client.js';
import type { XapiRef } from './xapi-records.js';

export interface HostXapiOptions {
  /** RPC calls in flight at once. */
  callLimit: number;
  retry?: RetryOptions;
  logger?: Logger;
  /** Test hook: the clock used between retries. */
  sleep?: (ms: number) => Promise<void>;
}

/** A running VDI export: the VHD body, and the end of XAPI's task. */
export interface VdiExport {
  body: AsyncIterable<Buffer>;
  /** Resolves when XAPI's task ends successfully; rejects with its error. Always observed. */
  done: Promise<void>;
  /** Stops the transfer (closes the connection). */
  cancel(): void;
}

const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'UND_ERR_SOCKET']);

export class HostXapi {
  private readonly calls: Semaphore;
  private readonly retry: RetryOptions;

  constructor(
    readonly client: XapiClient,
    private readonly options: HostXapiOptions,
  ) {
    this.calls = new Semaphore(options.callLimit);
    this.retry = options.retry ?? DEFAULT_RETRY;
  }

  /** A synchronous XAPI call (`VM.get_record`, `VDI.destroy`, …). */
  call<T>(method: string, ...args: unknown[]): Promise<T> {
    return this.withPolicy(method, () => this.client.call(method, ...args) as Promise<T>);
  }

  /** A call run as an XAPI task (`Async.VM.snapshot`), awaited to its end. */
  callAsync<T>(method: string, ...args: unknown[]): Promise<T> {
    return this.withPolicy(method, () => this.client.callAsync(method, ...args) as Promise<T>);
  }

  getRecord<T>(type: string, ref: XapiRef): Promise<T> {
    return this.call<T>(`${type}.get_record`, ref);
  }

  async getRecordByUuid<T>(type: string, uuid: string): Promise<{ ref: XapiRef; record: T }> {
    const ref = await this.call<XapiRef>(`${type}.get_by_uuid`, uuid);
    return { ref, record: await this.getRecord<T>(type, ref) };
  }

  /** Starts `GET /export_raw_vdi` as VHD (a delta when `base` is given). Failures before the
   * first byte (HTTP errors, an error page in the body) are retried when transient. */
  exportVdi(vdi: XapiRef, base?: XapiRef): Promise<VdiExport> {
    const query: Record<string, string> = { format: 'vhd', vdi };
    if (base !== undefined) query.base = base;
    const method = base === undefined ? 'export_raw_vdi' : 'export_raw_vdi(base)';
    return this.withRetry(method, true, async () => {
      const response = await this.client.getResource('/export_raw_vdi/', { query, task: true });
      const done = settleTask(method, response.task);
      try {
        const body = await guardExportBody(response.body, method);
        return { body, done, cancel: () => response.body.destroy() };
      } catch (error) {
        response.body.destroy();
        throw error;
      }
    });
  }

  /** `PUT /import_raw_vdi` of a VHD stream of known length into an existing VDI. */
  async importVdi(vdi: XapiRef, body: XapiUploadBody): Promise<void> {
    try {
      await this.client.putResource(body, '/import_raw_vdi/', { query: { format: 'vhd', vdi }, task: true });
    } catch (error) {
      throw XapiCallError.from('import_raw_vdi', error);
    }
  }

  private withPolicy<T>(method: string, operation: () => Promise<T>): Promise<T> {
    return this.withRetry(method, isReadOnly(method), () => this.calls.run(operation));
  }

  private withRetry<T>(method: string, idempotent: boolean, operation: () => Promise<T>): Promise<T> {
    return retryWithBackoff(
      async () => {
        try {
          return await operation();
        } catch (error) {
          throw XapiCallError.from(method, error);
        }
      },
      this.retry,
      {
        isTransient: (error) => error instanceof XapiCallError && error.retryable && (idempotent || !NETWORK_CODES.has(error.xapiCode)),
        onRetry: (error, attempt, delayMs) =>
          this.options.logger?.warn({ method, attempt, delayMs, code: (error as XapiCallError).xapiCode }, 'XAPI call failed, retrying'),
        ...(this.options.sleep === undefined ? {} : { sleep: this.options.sleep }),
      },
    );
  }
}

function isReadOnly(method: string): boolean {
  return /^[^.]+\.get_/.test(method);
}

function settleTask(method: string, task: Promise<unknown> | undefined): Promise<void> {
  const done = (task ?? Promise.resolve()).then(
    () => undefined,
    (error: unknown) => {
      throw XapiCallError.from(method, error);
    },
  );
  done.catch(() => undefined);
  return done;
}
