// The grants a task carries to its remote's storage agent (docs/security.md, "Data plane"): a
// backup task the write grant for its backup id, a restore task the read grant for its backup's
// disks, both held by the pool's host agents ("host:<pool>") and signed with the coordinator's
// key. Made when the task is put on the wire, never stored: a task published again (same
// attempt) gets the same grant, a retry one for its own deadline.
//
// Expiry = the attempt's deadline: after it the coordinator has given up on the attempt (a retry
// carries a new grant), so nothing the attempt still sends should land. The write grant names no
// disks (every disk of that backup id): the host agent learns the VM's disks from its snapshot,
// which the coordinator has not seen; the backup id is new for this task, so the grant reaches no
// committed data. A restore's disks are known (the catalogue's record of the backup) and named.
import { GrantAction, signGrant, type Grant, type SignedGrant } from '../../shared/grants/index.js';
import { identityText } from '../../shared/identity/index.js';
import type { Signer } from '../../shared/signing/index.js';
import type { Task } from '../../shared/proto/gen/deltachain/tasks/v1/task.js';
import type { TaskOf, TaskRecord } from '../catalogue/index.js';

/** The grant a task needs, unsigned; undefined for tasks that call no storage agent (or are not on their way). */
export function grantOf(task: TaskRecord): Grant | undefined {
  if (task.kind === 'mirror') return mirrorGrantOf(task);
  if ((task.kind !== 'backup' && task.kind !== 'restore') || task.addressKind !== 'pool' || task.deadlineAt === null) return undefined;
  const common = {
    remoteId: task.remoteName ?? '',
    vmUuid: task.vmUuid ?? '',
    holder: identityText({ role: 'host', name: task.address }),
    expiresAtMs: task.deadlineAt.getTime(),
    taskId: task.id,
  };
  if (task.kind === 'backup') {
    const p = task.payload;
    return { ...common, action: GrantAction.GRANT_ACTION_WRITE, backupId: p.backupId, diskKeys: [] };
  }
  const p = task.payload;
  return { ...common, action: GrantAction.GRANT_ACTION_READ, backupId: p.backupId, diskKeys: p.diskKeys ?? [] };
}

/**
 * A mirror's read grant: the source remote's backup, its disks, held by the target remote's
 * storage agent ("storage:<target>"), which pulls it.
 */
function mirrorGrantOf(task: TaskOf<'mirror'>): Grant | undefined {
  if (task.addressKind !== 'remote' || task.deadlineAt === null) return undefined;
  const p = task.payload;
  return {
    action: GrantAction.GRANT_ACTION_READ,
    remoteId: p.sourceRemote,
    vmUuid: task.vmUuid ?? '',
    backupId: p.backupId,
    diskKeys: p.disks.map((d) => d.diskKey),
    holder: identityText({ role: 'storage', name: task.address }),
    expiresAtMs: task.deadlineAt.getTime(),
    taskId: task.id,
  };
}

/** The envelope with its grant signed into the payload (write_grant, read_grant). */
export function withGrant(envelope: Task, task: TaskRecord, signer: Signer): Task {
  const grant = grantOf(task);
  if (grant === undefined) return envelope;
  const signed: SignedGrant = signGrant(signer, grant);
  const payload = envelope.payload;
  if (payload?.$case === 'backup') return { ...envelope, payload: { $case: 'backup', value: { ...payload.value, writeGrant: signed } } };
  if (payload?.$case === 'restore') return { ...envelope, payload: { $case: 'restore', value: { ...payload.value, readGrant: signed } } };
  if (payload?.$case === 'mirror') return { ...envelope, payload: { $case: 'mirror', value: { ...payload.value, readGrant: signed } } };
  return envelope;
}
