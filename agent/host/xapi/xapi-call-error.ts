// The named error for a failed XAPI call or transfer: the XAPI code and its parameters (as XAPI
// gave them), the method, whether retrying later can help, advice for the operator, and the side
// that failed — the pool, or the network to it for a connection error. Built
// at the boundary from whatever the `xen-api` client threw (XapiError, network error, HTTP error).
import { DeltachainError } from '../../../shared/errors.js';
import { classifyXapiFailure, isNetworkCode, type XapiFailureKind } from './classify-xapi-error.js';

export class XapiCallError extends DeltachainError {
  override name = 'XapiCallError';
  /** XAPI's error code (`VDI_IO_ERROR`), a network code (`ECONNRESET`) or `HTTP_<status>`. */
  readonly xapiCode: string;
  readonly params: readonly string[];
  readonly method: string;
  readonly kind: XapiFailureKind;

  constructor(method: string, xapiCode: string, params: readonly string[], options: { cause?: unknown; detail?: string } = {}) {
    const { kind, advice } = classifyXapiFailure(xapiCode);
    const detail = options.detail === undefined ? '' : ` ${options.detail}`;
    super('XAPI_CALL_FAILED', `XAPI ${method} failed: ${xapiCode}(${params.join(', ')})${detail} — ${advice}`, {
      cause: options.cause,
      retryable: kind === 'transient',
      side: isNetworkCode(xapiCode) ? 'network' : 'pool',
    });
    this.xapiCode = xapiCode;
    this.params = params;
    this.method = method;
    this.kind = kind;
  }

  /** Converts anything the client threw into an XapiCallError (idempotent). */
  static from(method: string, error: unknown): XapiCallError {
    if (error instanceof XapiCallError) return error;
    const { code, params, detail } = describeClientError(error);
    return new XapiCallError(method, code, params, { cause: error, detail });
  }
}

interface ClientErrorShape {
  code?: unknown;
  params?: unknown;
  message?: unknown;
  response?: { statusCode?: unknown };
  cause?: { code?: unknown };
}

function describeClientError(error: unknown): { code: string; params: string[]; detail: string | undefined } {
  const shape = (typeof error === 'object' && error !== null ? error : {}) as ClientErrorShape;
  const params = Array.isArray(shape.params) ? shape.params.map(String) : [];
  if (typeof shape.code === 'string' && shape.code !== '') {
    return { code: shape.code, params, detail: undefined };
  }
  const status = shape.response?.statusCode;
  if (typeof status === 'number') return { code: `HTTP_${status}`, params: [], detail: undefined };
  if (typeof shape.cause?.code === 'string') return { code: shape.cause.code, params: [], detail: undefined };
  const message = typeof shape.message === 'string' ? shape.message : String(error);
  return { code: 'UNKNOWN', params: [], detail: message };
}
