// Classifies a failure of an XAPI call by its error code (or its network error code) into what
// the agent should do: retry the call with backoff (transient), or fail the task with a message
// that says what to do next (permanent). Pure: a table over codes, tested without I/O.
//
// SESSION_INVALID is handled by the client itself (it logs in again once and retries); when it
// still reaches us, the credentials or the pool master changed, so it is permanent here.

export type XapiFailureKind = 'transient' | 'permanent';

export interface XapiFailureClass {
  kind: XapiFailureKind;
  /** What the operator should do next, appended to the error message. */
  advice: string;
}

const TRANSIENT_XAPI_CODES: Readonly<Record<string, string>> = {
  OTHER_OPERATION_IN_PROGRESS: 'another operation holds the object; retried',
  TOO_MANY_PENDING_TASKS: 'the pool is busy; retried',
  EVENTS_LOST: 'the event stream was reset; retried',
  HOST_OFFLINE: 'a host of the pool is offline; retried',
  HOST_NOT_LIVE: 'a host of the pool is not live; retried',
  SR_BACKEND_FAILURE_46: 'the SR is busy (VDI locked); retried',
  VDI_IN_USE: 'the VDI is attached or locked by another operation; retried',
};

const PERMANENT_ADVICE: Readonly<Record<string, string>> = {
  SESSION_INVALID: 'the XAPI session was refused after a new login; check the pool master and credentials in the host agent config',
  SESSION_AUTHENTICATION_FAILED: 'check the XAPI user and password in the host agent config',
  HANDLE_INVALID: 'the object no longer exists on the pool (deleted meanwhile?)',
  UUID_INVALID: 'no object with this uuid on the pool; check the VM/SR/network uuid',
  VM_BAD_POWER_STATE: 'the VM is not in the power state this operation needs',
  SR_FULL: 'the SR has no room for the snapshot or the restored disks; free space or choose another SR',
  SR_BACKEND_FAILURE_44: 'the SR has no room left; free space or choose another SR',
  SR_BACKEND_FAILURE_82: 'the SR failed to take the snapshot; check the SR health on the pool',
  SR_BACKEND_FAILURE_109: 'the VDI chain is too long on the SR; let the SR coalesce, then retry',
  VDI_IO_ERROR: 'the pool could not read or write the disk; check the SR health on the pool',
  VDI_MISSING: 'a disk of the VM is missing on its SR',
  VDI_TOO_LARGE: 'the disk is larger than the SR or the format allows',
  OPERATION_NOT_ALLOWED: 'the pool refused the operation in the current state of the object',
  MESSAGE_METHOD_UNKNOWN: 'the pool does not know this call; check the XAPI version',
  PERMISSION_DENIED: 'the XAPI user lacks the role this operation needs (pool-admin or vm-admin)',
  RBAC_PERMISSION_DENIED: 'the XAPI user lacks the role this operation needs (pool-admin or vm-admin)',
  TASK_CANCELLED: 'the XAPI task was cancelled',
  INTERNAL_ERROR: 'XAPI reported an internal error; see the pool logs',
};

/** Network failures between the agent and the pool: worth trying again. */
const TRANSIENT_NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/**
 * xen-api 4.7.6 asserts that it holds a session when a call starts; a call that starts while the
 * client is logging in again after SESSION_INVALID (its `_sessionOpen` clears the session first)
 * fails that assertion. The next try finds the new session, so it is transient.
 */
const CLIENT_RELOGIN_RACE = 'ERR_ASSERTION';

/** Whether a code is a failure of the connection to the pool rather than of the pool itself. */
export function isNetworkCode(code: string): boolean {
  return TRANSIENT_NETWORK_CODES.has(code);
}

export function classifyXapiFailure(code: string | undefined): XapiFailureClass {
  if (code === CLIENT_RELOGIN_RACE) {
    return { kind: 'transient', advice: 'the XAPI client was logging in again; retried' };
  }
  if (code !== undefined) {
    const transient = TRANSIENT_XAPI_CODES[code];
    if (transient !== undefined) return { kind: 'transient', advice: transient };
    if (TRANSIENT_NETWORK_CODES.has(code)) return { kind: 'transient', advice: 'the connection to the pool failed; retried' };
    const advice = PERMANENT_ADVICE[code];
    if (advice !== undefined) return { kind: 'permanent', advice };
    if (code.startsWith('SR_BACKEND_FAILURE')) return { kind: 'permanent', advice: 'the SR backend failed; check the SR on the pool' };
    if (code === 'HTTP_401' || code === 'HTTP_403') return { kind: 'permanent', advice: 'the pool refused the session for this transfer; check the credentials' };
    if (/^HTTP_5\d\d$/.test(code)) return { kind: 'transient', advice: 'the pool answered with a server error; retried' };
    if (code.startsWith('HTTP_')) return { kind: 'permanent', advice: 'the pool refused the transfer request' };
  }
  return { kind: 'permanent', advice: 'see the error code and the pool logs' };
}
