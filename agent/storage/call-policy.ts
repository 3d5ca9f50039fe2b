// Who may make which call on a storage agent (docs/security.md, "Data plane"). Pure: a table of
// RPC × role, and what the call's request says it touches (its scope). A call is served when the
// caller's certificate names a role the table allows for the RPC AND, where the table says so,
// the caller sends a grant the coordinator signed for it that covers the scope:
//   write grant (GRANT_ACTION_WRITE for remote, VM, backup id, disks): uploading and committing
//     one backup — PutDisk, CommitBackup, DiscardBackup of that backup id — and the reads a
//     backup makes of its own VM (HasBase, ListBackups, GetBackup of any backup of the VM);
//   read grant (GRANT_ACTION_READ for remote, VM, backup id, disks): reading one committed
//     backup — GetBackup of it, GetDisk of its disks.
// The coordinator reads any VM's listing, metadata and the remote's capacity by its role alone
// (it confirms commits). Host agents hold write and read grants; storage agents may hold read
// grants (mirrors copying a backup from another remote). Operators, viewers and certificates
// without an identity are refused everything: people act through the coordinator.
import type { Identity, Role } from '../../shared/identity/index.js';
import { identityText } from '../../shared/identity/index.js';
import { GrantAction } from '../../shared/grants/index.js';

export const STORAGE_RPCS = ['PutDisk', 'CommitBackup', 'DiscardBackup', 'GetDisk', 'GetBackup', 'HasBase', 'ListBackups', 'Stat'] as const;
export type StorageRpc = (typeof STORAGE_RPCS)[number];

/** What a call's request names. `vmUuid` '' = every VM (ListBackups); absent fields: not named. */
export interface CallScope {
  vmUuid?: string;
  backupId?: string;
  diskKeys?: readonly string[];
}

/**
 * How a role may make a call: `role` — its certificate suffices; `write` / `read` — a grant of
 * that action for the call's VM, backup and disks; `vm-write` — a write grant for the call's VM
 * (any backup id); `read-or-vm-write` — either.
 */
export type Need = 'role' | 'write' | 'read' | 'vm-write' | 'read-or-vm-write';

/** The policy: per RPC, the roles that may call it and what each needs. Roles not named: refused. */
export const CALL_POLICY: Readonly<Record<StorageRpc, Readonly<Partial<Record<Role, Need>>>>> = {
  PutDisk: { host: 'write' },
  CommitBackup: { host: 'write' },
  DiscardBackup: { host: 'write' },
  GetDisk: { host: 'read', storage: 'read' },
  GetBackup: { coordinator: 'role', host: 'read-or-vm-write', storage: 'read' },
  HasBase: { host: 'vm-write' },
  ListBackups: { coordinator: 'role', host: 'vm-write' },
  Stat: { coordinator: 'role' },
};

/** A grant that would let the call through: its action, and what it must cover. */
export interface GrantRequirement {
  action: GrantAction;
  vmUuid: string;
  /** Undefined: any backup of the VM. */
  backupId?: string;
  /** Each must be covered; empty: no particular disk. */
  diskKeys: readonly string[];
}

export type CallRule =
  | { outcome: 'serve'; caller: string }
  /** Serve if the caller sent a grant held by `holder` that meets one of `anyOf`. */
  | { outcome: 'grant'; caller: string; holder: string; anyOf: GrantRequirement[] }
  | { outcome: 'refuse'; status: 'unauthenticated' | 'permission-denied'; reason: string };

const NEED_WORDS: Record<Need, string> = {
  role: 'its role',
  write: "the coordinator's write grant for the backup",
  read: "the coordinator's read grant for the backup",
  'vm-write': "the coordinator's write grant for a backup of the VM",
  'read-or-vm-write': "the coordinator's read grant for the backup or write grant for a backup of the VM",
};

/** Decides what a call needs, from the RPC, the caller's identity and the request's scope. */
export function callRule(rpc: StorageRpc, caller: Identity | undefined, scope: CallScope): CallRule {
  if (caller === undefined) {
    return {
      outcome: 'refuse',
      status: 'unauthenticated',
      reason: `${rpc} refused: the caller showed no certificate with a Deltachain identity (a subjectAltName URI urn:deltachain:<role>:<name>); a storage agent serves only the coordinator and agents with role certificates`,
    };
  }
  const who = identityText(caller);
  const need = CALL_POLICY[rpc][caller.role];
  if (need === undefined) {
    return { outcome: 'refuse', status: 'permission-denied', reason: `${rpc} refused: ${who} may not call it; ${allowedWords(rpc)}` };
  }
  if (need === 'role') return { outcome: 'serve', caller: who };
  const vmUuid = scope.vmUuid ?? '';
  if (vmUuid === '') {
    return { outcome: 'refuse', status: 'permission-denied', reason: `${rpc} refused: ${who} may call it for one VM at a time, with ${NEED_WORDS[need]}` };
  }
  return { outcome: 'grant', caller: who, holder: who, anyOf: requirements(need, vmUuid, scope) };
}

function requirements(need: Exclude<Need, 'role'>, vmUuid: string, scope: CallScope): GrantRequirement[] {
  const backup = { vmUuid, diskKeys: scope.diskKeys ?? [], ...(scope.backupId === undefined ? {} : { backupId: scope.backupId }) };
  const vmWrite: GrantRequirement = { action: GrantAction.GRANT_ACTION_WRITE, vmUuid, diskKeys: [] };
  switch (need) {
    case 'write':
      return [{ action: GrantAction.GRANT_ACTION_WRITE, ...backup }];
    case 'read':
      return [{ action: GrantAction.GRANT_ACTION_READ, ...backup }];
    case 'vm-write':
      return [vmWrite];
    case 'read-or-vm-write':
      return [{ action: GrantAction.GRANT_ACTION_READ, ...backup }, vmWrite];
  }
}

/** "only host (with …) and the coordinator (by its role) may": for refusals. */
function allowedWords(rpc: StorageRpc): string {
  const entries = Object.entries(CALL_POLICY[rpc]) as [Role, Need][];
  const parts = entries.map(([role, need]) => (need === 'role' ? `the ${role} by its role` : `a ${role} agent with ${NEED_WORDS[need]}`));
  return `only ${parts.join(', or ')} may`;
}

/** The scope of a request, as each RPC's request names it (PutDisk: its header). */
export function scopeOf(rpc: StorageRpc, request: Record<string, unknown> | undefined): CallScope {
  const r = request ?? {};
  const text = (key: string): string | undefined => (typeof r[key] === 'string' ? (r[key] as string) : undefined);
  switch (rpc) {
    case 'Stat':
      return {};
    case 'HasBase':
    case 'ListBackups':
      return { vmUuid: text('vmUuid') ?? '' };
    case 'GetBackup':
    case 'DiscardBackup':
      return { vmUuid: text('vmUuid') ?? '', backupId: text('backupId') ?? '' };
    case 'PutDisk':
    case 'GetDisk':
      return { vmUuid: text('vmUuid') ?? '', backupId: text('backupId') ?? '', diskKeys: [text('diskKey') ?? ''] };
    case 'CommitBackup':
      return { vmUuid: text('vmUuid') ?? '', backupId: text('backupId') ?? '', diskKeys: Array.isArray(r.diskKeys) ? (r.diskKeys as string[]) : [] };
  }
}
