// Every NATS subject, stream and consumer name Deltachain uses, in one place. A namespace
// prefixes them all, so a test run (or a second installation on the same NATS) gets its own
// streams: `natsNames('deltachain-test-3f9a')`. Production uses the default namespace.
//
//   <ns>.tasks.storage.<remoteId>     tasks for a remote's storage agent   (stream <NS>_TASKS, work queue)
//   <ns>.tasks.host.<poolId>          tasks for a pool's host agents       (stream <NS>_TASKS)
//   <ns>.events.<agentId>.<kind>      events: started|progress|result|heartbeat|inventory (stream <NS>_EVENTS)
export const DEFAULT_NAMESPACE = 'deltachain';
/** Namespaces, remote, pool and agent ids become subject tokens and stream names: no dots or wildcards. */
export const TOKEN_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;

export type EventKind = 'started' | 'progress' | 'result' | 'heartbeat' | 'inventory';

export interface NatsNames {
  namespace: string;
  tasksStream: string;
  eventsStream: string;
  /** Wildcards the streams capture. */
  allTasks: string;
  allEvents: string;
  storageTasks(remoteId: string): string;
  hostTasks(poolId: string): string;
  event(agentId: string, kind: EventKind): string;
  /** Events of every agent of one kind, e.g. all results: `<ns>.events.*.result`. */
  eventsOfKind(kind: EventKind): string;
  /** Durable consumer of a remote's storage agent. */
  storageConsumer(remoteId: string): string;
  hostConsumer(poolId: string): string;
}

function token(value: string, what: string): string {
  if (!TOKEN_PATTERN.test(value)) throw new RangeError(`${what} ${JSON.stringify(value)} must match ${TOKEN_PATTERN} (it becomes a NATS subject token)`);
  return value;
}

export function natsNames(namespace: string = DEFAULT_NAMESPACE): NatsNames {
  const ns = token(namespace, 'NATS namespace');
  const upper = ns.toUpperCase().replace(/-/g, '_');
  return {
    namespace: ns,
    tasksStream: `${upper}_TASKS`,
    eventsStream: `${upper}_EVENTS`,
    allTasks: `${ns}.tasks.>`,
    allEvents: `${ns}.events.>`,
    storageTasks: (remoteId) => `${ns}.tasks.storage.${token(remoteId, 'remote id')}`,
    hostTasks: (poolId) => `${ns}.tasks.host.${token(poolId, 'pool id')}`,
    event: (agentId, kind) => `${ns}.events.${token(agentId, 'agent id')}.${kind}`,
    eventsOfKind: (kind) => `${ns}.events.*.${kind}`,
    storageConsumer: (remoteId) => `storage-${token(remoteId, 'remote id')}`,
    hostConsumer: (poolId) => `host-${token(poolId, 'pool id')}`,
  };
}
