// The metadata a call to a storage agent carries: the coordinator's grant for it, when the
// caller holds one (shared/grants; the storage agent checks it against the caller's certificate).
import { Metadata } from '@grpc/grpc-js';
import { GRANT_METADATA_KEY } from '../grants/index.js';

export interface StorageCallOptions {
  /** The SignedGrant's bytes, as the task carried them (shared/grants encodeSignedGrant). */
  grant?: Uint8Array | undefined;
}

export function grantMetadata(grant: Uint8Array | undefined): Metadata {
  const metadata = new Metadata();
  if (grant !== undefined && grant.length > 0) metadata.set(GRANT_METADATA_KEY, Buffer.from(grant.buffer, grant.byteOffset, grant.byteLength));
  return metadata;
}
