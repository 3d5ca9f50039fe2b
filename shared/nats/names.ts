// Every NATS subject, stream, consumer and inbox name Deltachain uses, in one place. A namespace
// prefixes them all, so a test run (or a second installation on the same NATS) gets its own
// streams: `natsNames('deltachain-test-3f9a')`. Production uses the default namespace.
//
//   <ns>.tasks.storage.<remoteId>                     tasks for a remote's storage agent (stream <NS>_TASKS, work queue)
//   <ns>.tasks.host.<poolId>                          tasks for a pool's host agents     (stream <NS>_TASKS)
//   <ns>.events.host.<poolId>.<agent>.<kind>          a host agent's events              (stream <NS>_EVENTS)
//   <ns>.events.storage.<remoteId>.<agent>.<kind>     a storage agent's events; kind: started|progress|result|heartbeat|inventory
//   _INBOX.<ns>.<role>.<scope>.<agent>.…               an agent's replies (only it may subscribe there)
//   _INBOX.<ns>.coordinator.…                          the coordinator's replies
//
// An event's sender is its subject: the NATS server lets each agent's user publish only under
// its own role, pool or remote and name (nats-permissions.ts), so the coordinator reads who sent
// an event from the subject (parseEvent) and never from the message body.
export const DEFAULT_NAMESPACE = 'deltachain';
/** Namespaces, remote, pool and agent ids become subject tokens and stream names: no dots or wildcards. */
export const TOKEN_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;

export const EVENT_KINDS = ['started', 'progress', 'result', 'heartbeat', 'inventory', 'refused'] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

/** Host agents serve a pool; storage agents serve a remote. */
export type AgentRole = 'host' | 'storage';

/** Who publishes events: the role, the pool or remote served (`scope`), the agent's name. */
export interface EventSender {
  role: AgentRole;
  scope: string;
  agent: string;
}

/** "host agent host-1 of pool lab", for messages and logs. */
export function describeSender(sender: EventSender): string {
  return `${sender.role} agent ${sender.agent} of ${sender.role === 'host' ? 'pool' : 'remote'} ${sender.scope}`;
}

export interface NatsNames {
  namespace: string;
  tasksStream: string;
  eventsStream: string;
  /** Wildcards the streams capture. */
  allTasks: string;
  allEvents: string;
  storageTasks(remoteId: string): string;
  hostTasks(poolId: string): string;
  /** The tasks subject of a pool (host role) or remote (storage role). */
  tasksOf(role: AgentRole, scope: string): string;
  event(sender: EventSender, kind: EventKind): string;
  /** Every event of one agent, `<ns>.events.<role>.<scope>.<agent>.*` (what its user may publish). */
  eventsOf(sender: EventSender): string;
  /** The sender and kind an event subject names; undefined for anything else. */
  parseEvent(subject: string): { sender: EventSender; kind: EventKind } | undefined;
  /** Durable consumer of a remote's storage agent. */
  storageConsumer(remoteId: string): string;
  hostConsumer(poolId: string): string;
  /** The durable consumer of a pool's (host role) or remote's (storage role) tasks. */
  consumerOf(role: AgentRole, scope: string): string;
  /** The coordinators' durable consumer of the events stream (shared by several coordinators). */
  coordinatorConsumer: string;
  /** Inbox prefix of an agent's replies; its user may subscribe under it and nowhere else. */
  agentInbox(sender: EventSender): string;
  coordinatorInbox: string;
}

function token(value: string, what: string): string {
  if (!TOKEN_PATTERN.test(value)) throw new RangeError(`${what} ${JSON.stringify(value)} must match ${TOKEN_PATTERN} (it becomes a NATS subject token)`);
  return value;
}

const scopeWord = (role: AgentRole) => (role === 'host' ? 'pool id' : 'remote id');

function checkedSender(sender: EventSender): EventSender {
  if (sender.role !== 'host' && sender.role !== 'storage') throw new RangeError(`agent role ${JSON.stringify(sender.role)} must be host or storage`);
  return { role: sender.role, scope: token(sender.scope, scopeWord(sender.role)), agent: token(sender.agent, 'agent id') };
}

function parseEvent(ns: string, subject: string): { sender: EventSender; kind: EventKind } | undefined {
  const parts = subject.split('.');
  if (parts.length !== 6 || parts[0] !== ns || parts[1] !== 'events') return undefined;
  const [, , role, scope, agent, kind] = parts as [string, string, string, string, string, string];
  if (role !== 'host' && role !== 'storage') return undefined;
  if (!TOKEN_PATTERN.test(scope) || !TOKEN_PATTERN.test(agent)) return undefined;
  if (!(EVENT_KINDS as readonly string[]).includes(kind)) return undefined;
  return { sender: { role, scope, agent }, kind: kind as EventKind };
}

export function natsNames(namespace: string = DEFAULT_NAMESPACE): NatsNames {
  const ns = token(namespace, 'NATS namespace');
  const upper = ns.toUpperCase().replace(/-/g, '_');
  const tasksOf = (role: AgentRole, scope: string) => `${ns}.tasks.${role}.${token(scope, scopeWord(role))}`;
  const consumerOf = (role: AgentRole, scope: string) => `${role}-${token(scope, scopeWord(role))}`;
  const eventsOf = (sender: EventSender) => {
    const s = checkedSender(sender);
    return `${ns}.events.${s.role}.${s.scope}.${s.agent}`;
  };
  return {
    namespace: ns,
    tasksStream: `${upper}_TASKS`,
    eventsStream: `${upper}_EVENTS`,
    allTasks: `${ns}.tasks.>`,
    allEvents: `${ns}.events.>`,
    storageTasks: (remoteId) => tasksOf('storage', remoteId),
    hostTasks: (poolId) => tasksOf('host', poolId),
    tasksOf,
    event: (sender, kind) => `${eventsOf(sender)}.${kind}`,
    eventsOf: (sender) => `${eventsOf(sender)}.*`,
    parseEvent: (subject) => parseEvent(ns, subject),
    storageConsumer: (remoteId) => consumerOf('storage', remoteId),
    hostConsumer: (poolId) => consumerOf('host', poolId),
    consumerOf,
    coordinatorConsumer: 'coordinator',
    agentInbox: (sender) => {
      const s = checkedSender(sender);
      return `_INBOX.${ns}.${s.role}.${s.scope}.${s.agent}`;
    },
    coordinatorInbox: `_INBOX.${ns}.coordinator`,
  };
}
