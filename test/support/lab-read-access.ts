// What a test needs to read a backup's disk from a lab stack's storage agent the way a restore
// does: the certificate of a pool's host agent and a read grant for that backup, signed with the
// coordinator's key (the test stands in for the coordinator issuing a restore task).
import { randomUUID } from 'node:crypto';
import type { ChannelCredentials } from '@grpc/grpc-js';
import type { LabSecurity } from '../../lab/story/lab-security.js';
import { GrantAction, encodeSignedGrant, signGrant } from '../../shared/grants/index.js';
import { channelCredentials } from '../../shared/grpc/credentials.js';
import { readSigner } from '../../shared/signing/index.js';

export interface ReadAccess {
  credentials: ChannelCredentials;
  grant: Uint8Array;
}

export async function labReadAccess(security: LabSecurity, o: { pool: string; remote: string; vmUuid: string; backupId: string }): Promise<ReadAccess> {
  const grant = signGrant(readSigner(security.signingKey), {
    action: GrantAction.GRANT_ACTION_READ,
    remoteId: o.remote,
    vmUuid: o.vmUuid,
    backupId: o.backupId,
    diskKeys: [],
    holder: `host:${o.pool}`,
    expiresAtMs: Date.now() + 10 * 60_000,
    taskId: `test-${randomUUID()}`,
  });
  return { credentials: channelCredentials({ ...(await security.hostTls(o.pool)), insecure: false }), grant: encodeSignedGrant(grant) };
}
