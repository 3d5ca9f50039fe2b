// Classifies a failed call to a storage agent by its gRPC status, the storage agent's own error
// code (the `deltachain-error-code` trailer) and the RPC: whether a later attempt can succeed,
// which side failed, and what the operator should do. Pure: a table, tested without I/O.
//   * not answering (UNAVAILABLE, a deadline, a cancelled stream): the storage agent is down,
//     restarting or busy — or, when the connection error says the host is unreachable, the
//     network; retryable;
//   * the remote's file system is full (REMOTE_FULL): the operator must free space; not retried;
//   * a block damaged on the way in (PutDisk DATA_LOSS): sending it again helps;
//   * a refused request (bad id, missing parent, committed backup): not retried;
//   * a refused caller (certificate without the right identity, a missing or wrong grant): not
//     retried — the certificates or keys need an operator.
import { status } from '@grpc/grpc-js';
import type { FailureSide } from '../../../shared/errors.js';

export interface StorageFailureClass {
  /** The DeltachainError code to report: STORAGE_CALL_FAILED, or REMOTE_FULL. */
  code: string;
  retryable: boolean;
  side: FailureSide;
  /** What to do next; empty when the storage agent's message already says it. */
  advice: string;
}

const UNREACHABLE = /\b(EHOSTUNREACH|ENETUNREACH|ETIMEDOUT|EAI_AGAIN|ENOTFOUND)\b/;

export function classifyStorageFailure(grpcCode: number, serverCode: string | undefined, rpc: string, detail: string): StorageFailureClass {
  if (serverCode === 'REMOTE_FULL') return { code: 'REMOTE_FULL', retryable: false, side: 'remote-full', advice: '' };
  const failed = (retryable: boolean, side: FailureSide, advice: string): StorageFailureClass => ({ code: 'STORAGE_CALL_FAILED', retryable, side, advice });
  switch (grpcCode) {
    case status.UNAVAILABLE:
      if (UNREACHABLE.test(detail)) return failed(true, 'network', "the storage agent's host cannot be reached from this host agent; check the network and the address the storage agent registered");
      return failed(true, 'storage', 'the storage agent is not answering (stopped, restarting or overloaded); check that it runs — the task is retried');
    case status.DEADLINE_EXCEEDED:
      return failed(true, 'storage', 'the storage agent did not answer in time (busy or stalled); the task is retried');
    case status.CANCELLED:
    case status.ABORTED:
    case status.RESOURCE_EXHAUSTED:
      return failed(true, 'storage', 'the storage agent dropped the call (restarting or busy); the task is retried');
    case status.DATA_LOSS:
      if (rpc === 'PutDisk') return failed(true, 'network', 'a block was damaged on its way to the storage agent; the disk is sent again');
      return failed(false, 'data', 'the backup data on the remote is damaged; verify the remote and take a new full backup');
    case status.INVALID_ARGUMENT:
    case status.NOT_FOUND:
    case status.FAILED_PRECONDITION:
    case status.ALREADY_EXISTS:
    case status.OUT_OF_RANGE:
      return failed(false, 'request', 'the storage agent refused the request');
    case status.UNAUTHENTICATED:
    case status.PERMISSION_DENIED:
      return failed(false, 'request', "the storage agent refused this host agent: check that its storage.tls certificate names host:<pool id> and comes from the storage agent's CA, and that the storage agent's trust.coordinatorKey is this coordinator's public key");
    case status.UNIMPLEMENTED:
      return failed(false, 'storage', 'the storage agent does not know this call; upgrade it to the version of this host agent');
    default:
      return failed(false, 'storage', "the storage agent failed; see the storage agent's log");
  }
}
