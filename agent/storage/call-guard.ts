// Applies the data plane's policy (call-policy.ts) to one call: the caller's identity as its
// certificate proved it, the grant it sent, the coordinator's pinned public key, this remote and
// the clock. Throws StorageAccessError saying what was missing; returns who was served and under
// which grant, for the log. Pure apart from the signature check.
import { status } from '@grpc/grpc-js';
import type { Identity } from '../../shared/identity/index.js';
import { Grant, GrantAction, GrantRefusedError, MAX_GRANT_BYTES, SignedGrant, checkGrant, type GrantNeed } from '../../shared/grants/index.js';
import type { Verifier } from '../../shared/signing/index.js';
import { callRule, scopeOf, type GrantRequirement, type StorageRpc } from './call-policy.js';
import { StorageAccessError } from './errors.js';

export interface CallFacts {
  rpc: StorageRpc;
  caller: Identity | undefined;
  /** The request (PutDisk: its header). */
  request: Record<string, unknown> | undefined;
  /** The SignedGrant bytes the caller sent, if any. */
  grant: Uint8Array | undefined;
}

export interface Admitted {
  /** "host:lab", "coordinator", or "anyone" when the data plane is open. */
  caller: string;
  /** The grant's task id, when a grant let the call in. */
  taskId?: string;
}

/** Decides whether a call may go on; throws StorageAccessError when not. */
export interface CallGuard {
  admit(facts: CallFacts): Admitted;
}

/** Every call is served (a storage agent started with `storage.tls.insecure: true`). */
export const OPEN_GUARD: CallGuard = { admit: () => ({ caller: 'anyone' }) };

export class GrantGuard implements CallGuard {
  constructor(
    private readonly remoteId: string,
    private readonly coordinatorKey: Verifier,
    private readonly now: () => Date,
  ) {}

  admit(facts: CallFacts): Admitted {
    const rule = callRule(facts.rpc, facts.caller, scopeOf(facts.rpc, facts.request));
    if (rule.outcome === 'refuse') {
      throw new StorageAccessError(rule.status === 'unauthenticated' ? status.UNAUTHENTICATED : status.PERMISSION_DENIED, rule.reason);
    }
    if (rule.outcome === 'serve') return { caller: rule.caller };
    const requirement = chooseRequirement(rule.anyOf, facts.grant);
    try {
      let grant: Grant | undefined;
      const disks = requirement.diskKeys.length > 0 ? requirement.diskKeys : [undefined];
      for (const diskKey of disks) grant = checkGrant(this.coordinatorKey, facts.grant, this.need(requirement, rule.holder, diskKey), this.now());
      return { caller: rule.caller, taskId: grant!.taskId };
    } catch (error) {
      if (!(error instanceof GrantRefusedError)) throw error;
      throw new StorageAccessError(status.PERMISSION_DENIED, `${facts.rpc} refused for ${rule.caller}: ${error.message}`, { cause: error });
    }
  }

  private need(requirement: GrantRequirement, holder: string, diskKey: string | undefined): GrantNeed {
    return {
      action: requirement.action,
      remoteId: this.remoteId,
      holder,
      vmUuid: requirement.vmUuid,
      ...(requirement.backupId === undefined ? {} : { backupId: requirement.backupId }),
      ...(diskKey === undefined ? {} : { diskKey }),
    };
  }
}

/**
 * Of the requirements any one of which lets the call in, the one matching the action the grant
 * claims (read unverified, only to choose; checkGrant then verifies everything), else the first
 * — whose check then says what is wrong.
 */
function chooseRequirement(anyOf: readonly GrantRequirement[], raw: Uint8Array | undefined): GrantRequirement {
  if (anyOf.length > 1 && raw !== undefined) {
    const action = claimedAction(raw);
    const matching = anyOf.find((r) => r.action === action);
    if (matching) return matching;
  }
  return anyOf[0]!;
}

function claimedAction(raw: Uint8Array): GrantAction | undefined {
  if (raw.length > MAX_GRANT_BYTES) return undefined;
  try {
    return Grant.decode(SignedGrant.decode(raw).grant).action;
  } catch {
    return undefined;
  }
}
