// The control service behind its access policy (access-policy.ts): every call is judged before
// its handler runs, so a refused call reads and changes nothing, and every call — served or
// refused — is written to the audit trail with who made it (as the transport proved it), the
// request's summary and the outcome. Unary calls are recorded when they end; watches when they
// start. Refusals go back as UNAUTHENTICATED or PERMISSION_DENIED with the reason and are logged
// as warnings. An audit row that cannot be written is logged as an error; the call's answer is
// not held back for it (the catalogue the row would go to is then usually down too).
import { Metadata, status, type ServerUnaryCall, type ServiceError, type UntypedHandleCall } from '@grpc/grpc-js';
import { peerIdentity } from '../../shared/identity/index.js';
import type { Logger } from '../../shared/logging/index.js';
import { ControlServiceService, type ControlServiceServer } from '../../shared/proto/gen/deltachain/control/v1/control.js';
import { recordAudit, type AuditOutcome } from '../catalogue/index.js';
import { controlAccess, type ApiCaller, type ControlMethod } from './access-policy.js';
import { auditSummary } from './audit-summary.js';
import type { ControlContext } from './control-context.js';

/** How callers of one endpoint are recognised. */
export type ControlTransport = { kind: 'socket' } | { kind: 'tls'; open: boolean };

type AnyCall = Pick<ServerUnaryCall<unknown, unknown>, 'getAuthContext' | 'getPeer' | 'request'>;
type Callback = (error: Partial<ServiceError> | null, value?: unknown) => void;

function callerOf(transport: ControlTransport, call: AnyCall): ApiCaller {
  if (transport.kind === 'socket') return { transport: 'socket' };
  return { transport: 'tls', identity: peerIdentity(call), peer: call.getPeer(), open: transport.open };
}

function refusal(code: 'unauthenticated' | 'permission-denied', reason: string): Partial<ServiceError> {
  const metadata = new Metadata();
  metadata.set('deltachain-code', code === 'unauthenticated' ? 'UNAUTHENTICATED' : 'PERMISSION_DENIED');
  return { code: code === 'unauthenticated' ? status.UNAUTHENTICATED : status.PERMISSION_DENIED, details: reason, metadata };
}

export function guardControlService(service: ControlServiceServer, transport: ControlTransport, ctx: ControlContext, logger: Logger): ControlServiceServer {
  const log = logger.child({ component: 'control-access' });
  // The entry is written before the caller hears the answer, so what a caller saw happen is
  // already in the trail; a failed write is logged and does not change the answer.
  const audit = (who: string, rpc: string, request: unknown, outcome: AuditOutcome, detail: string): Promise<void> =>
    recordAudit(ctx.sql, { at: ctx.clock(), who, method: rpc, arguments: auditSummary(request), outcome, detail }).catch((error: unknown) =>
      log.error({ who, rpc, outcome, err: error }, 'audit entry not written'),
    );
  const guarded: Record<string, UntypedHandleCall> = {};
  for (const [method, definition] of Object.entries(ControlServiceService)) {
    const rpc = definition.path.split('/').pop()!;
    const handler = service[method as ControlMethod] as unknown as (call: AnyCall, callback?: Callback) => void;
    const judge = (call: AnyCall): { who: string; refused?: Partial<ServiceError> } => {
      const decision = controlAccess(method as ControlMethod, callerOf(transport, call));
      if (decision.outcome === 'serve') return { who: decision.who };
      log.warn({ rpc, who: decision.who, peer: call.getPeer(), reason: decision.reason }, 'call refused');
      return { who: decision.who, refused: refusal(decision.status, decision.reason) };
    };
    guarded[method] = definition.responseStream
      ? (call: AnyCall & { emit(event: 'error', error: Partial<ServiceError>): void }) => {
          const { who, refused } = judge(call);
          if (refused) return void audit(who, rpc, call.request, 'refused', String(refused.details)).then(() => call.emit('error', refused));
          void audit(who, rpc, call.request, 'ok', '').then(() => handler(call));
        }
      : (call: AnyCall, callback: Callback) => {
          const { who, refused } = judge(call);
          if (refused) return void audit(who, rpc, call.request, 'refused', String(refused.details)).then(() => callback(refused));
          handler(call, (error, value) => {
            void audit(who, rpc, call.request, error ? 'failed' : 'ok', error?.details ?? '').then(() => callback(error, value));
          });
        };
  }
  return guarded as unknown as ControlServiceServer;
}
