// Who may make which control-API call (docs/security.md, "Control API"). Pure: a table of
// method → the least role that may call it, and how a caller is recognised on each transport:
//   mutual TLS   the identity in the client certificate (shared/identity): an operator may call
//                everything, a viewer only what reads; the coordinator, host and storage agents
//                are not people and are refused; a certificate without an identity is refused.
//   local socket whoever the socket file's owner, group and mode let connect (api.socket); they
//                are operators. Node cannot read a unix socket's peer credentials (SO_PEERCRED)
//                without a native addon, so the file permissions are the check, and the audit
//                trail records "local socket".
//   insecure     api.tls.insecure: true without a CA (plaintext, or TLS checking no client
//                certificate): callers without a certificate identity are operators
//                ("unauthenticated <peer>"); ones with an identity keep their role.
import type { ControlServiceService } from '../../shared/proto/gen/deltachain/control/v1/control.js';
import { identityText, type Identity } from '../../shared/identity/index.js';

export type ControlMethod = keyof typeof ControlServiceService;
/** 'read': viewers and operators; 'change': operators only. */
export type Access = 'read' | 'change';

/** Every control-API method and who may call it. A method missing here fails the typecheck. */
export const CONTROL_POLICY: Readonly<Record<ControlMethod, Access>> = {
  createPolicy: 'change',
  updatePolicy: 'change',
  getPolicy: 'read',
  listPolicies: 'read',
  deletePolicy: 'change',
  setPolicyEnabled: 'change',
  runPolicy: 'change',
  addPool: 'change',
  listPools: 'read',
  addRemote: 'change',
  editRemote: 'change',
  listRemotes: 'read',
  scanRemote: 'change',
  listAgents: 'read',
  listVms: 'read',
  listBackups: 'read',
  listRuns: 'read',
  getRun: 'read',
  watchRun: 'read',
  restore: 'change',
  verify: 'change',
  getTask: 'read',
  watchTask: 'read',
  listAudit: 'read',
  createMirror: 'change',
  listMirrors: 'read',
  deleteMirror: 'change',
  runMirror: 'change',
};

/** How the call reached the coordinator, and what the transport proved about the caller. */
export type ApiCaller =
  | { transport: 'socket' }
  | { transport: 'tls'; identity: Identity | undefined; peer: string; open: boolean };

export type AccessDecision =
  | { outcome: 'serve'; who: string }
  | { outcome: 'refuse'; who: string; status: 'unauthenticated' | 'permission-denied'; reason: string };

/** What the audit trail calls a caller. */
export function callerText(caller: ApiCaller): string {
  if (caller.transport === 'socket') return 'local socket';
  if (caller.identity !== undefined) return identityText(caller.identity);
  return `${caller.open ? 'unauthenticated' : 'no identity'} ${caller.peer}`;
}

export function controlAccess(method: ControlMethod, caller: ApiCaller): AccessDecision {
  const who = callerText(caller);
  if (caller.transport === 'socket') return { outcome: 'serve', who };
  const identity = caller.identity;
  if (identity === undefined) {
    if (caller.open) return { outcome: 'serve', who };
    return {
      outcome: 'refuse',
      who,
      status: 'unauthenticated',
      reason: 'the control API serves operators and viewers: show a client certificate with a subjectAltName URI urn:deltachain:operator:<name> or urn:deltachain:viewer:<name>, or use the local socket',
    };
  }
  const access = CONTROL_POLICY[method];
  if (identity.role === 'operator') return { outcome: 'serve', who };
  if (identity.role === 'viewer' && access === 'read') return { outcome: 'serve', who };
  const reason =
    identity.role === 'viewer'
      ? `${who} may only look; ${method} changes things and needs an operator's certificate`
      : `${who} is not a person: the control API serves operators and viewers only`;
  return { outcome: 'refuse', who, status: 'permission-denied', reason };
}
