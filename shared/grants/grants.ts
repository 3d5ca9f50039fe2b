// Grants (proto deltachain.storage.v1.Grant, docs/security.md): the coordinator signs what one
// holder may do on one remote for a while; a storage agent checks each call against the grant the
// caller sent. Pure apart from the signature: the clock is a parameter.
import { DeltachainError } from '../errors.js';
import { Grant, GrantAction, SignedGrant } from '../proto/gen/deltachain/storage/v1/grant.js';
import type { Signer, Verifier } from '../signing/index.js';

/** gRPC metadata key a holder sends its SignedGrant's bytes under. */
export const GRANT_METADATA_KEY = 'deltachain-grant-bin';

/** At most this many bytes of grant are read from the wire. */
export const MAX_GRANT_BYTES = 16 * 1024;

export class GrantRefusedError extends DeltachainError {
  override name = 'GrantRefusedError';
  constructor(message: string) {
    super('GRANT_REFUSED', message, { side: 'request' });
  }
}

export function signGrant(signer: Signer, grant: Grant): SignedGrant {
  const bytes = Grant.encode(grant).finish();
  return { grant: Buffer.from(bytes), signature: signer.sign(bytes) };
}

export function encodeSignedGrant(signed: SignedGrant): Buffer {
  return Buffer.from(SignedGrant.encode(signed).finish());
}

/** What a call needs: the grant must allow exactly this. */
export interface GrantNeed {
  action: GrantAction;
  remoteId: string;
  /** The caller as its certificate proves it ("host:lab"). */
  holder: string;
  vmUuid: string;
  /** Undefined: any backup of the VM (reads a WRITE grant allows: ListBackups, HasBase). */
  backupId?: string;
  /** Undefined: no particular disk. */
  diskKey?: string;
}

/**
 * Decodes and checks a grant sent with a call; returns it, or throws GrantRefusedError saying
 * why (the message is for the storage agent's log and the caller; it reveals nothing secret).
 */
export function checkGrant(verifier: Verifier, raw: Uint8Array | undefined, need: GrantNeed, now: Date): Grant {
  if (raw === undefined || raw.length === 0) throw new GrantRefusedError('the call carries no grant; a storage agent serves backups and restores only with a grant from the coordinator');
  if (raw.length > MAX_GRANT_BYTES) throw new GrantRefusedError(`the grant is ${raw.length} bytes, more than ${MAX_GRANT_BYTES}`);
  let signed: SignedGrant;
  let grant: Grant;
  try {
    signed = SignedGrant.decode(raw);
    if (!verifier.verify(signed.grant, signed.signature)) throw new GrantRefusedError('the grant is not signed by the coordinator this storage agent trusts');
    grant = Grant.decode(signed.grant);
  } catch (error) {
    if (error instanceof GrantRefusedError) throw error;
    throw new GrantRefusedError(`the grant cannot be decoded: ${(error as Error).message}`);
  }
  const refuse = (why: string): never => {
    throw new GrantRefusedError(`grant of task ${grant.taskId || '?'} refused: ${why}`);
  };
  if (grant.expiresAtMs <= now.getTime()) refuse(`it expired at ${new Date(grant.expiresAtMs).toISOString()}`);
  if (grant.holder !== need.holder) refuse(`it was issued to ${grant.holder}, not to ${need.holder}`);
  if (grant.remoteId !== need.remoteId) refuse(`it is for remote ${grant.remoteId}, not ${need.remoteId}`);
  if (grant.action !== need.action) refuse(`it allows ${GrantAction[grant.action]}, this call needs ${GrantAction[need.action]}`);
  if (grant.vmUuid !== need.vmUuid) refuse(`it is for VM ${grant.vmUuid}, not ${need.vmUuid}`);
  if (need.backupId !== undefined && grant.backupId !== need.backupId) refuse(`it is for backup ${grant.backupId}, not ${need.backupId}`);
  if (need.diskKey !== undefined && grant.diskKeys.length > 0 && !grant.diskKeys.includes(need.diskKey)) refuse(`it does not cover disk ${need.diskKey}`);
  return grant;
}
