// The `authorization` block of a nats-server config for one Deltachain namespace: one nkey user
// per process (the coordinator, each host agent, each storage agent) with the permissions of
// its role (nats-permissions.ts). The server holds public keys only. Written by
// `deltachain nats-config` and by the lab, and read by nats-server as it is.
import { describeSender, type EventSender, type NatsNames } from './names.js';
import { agentPermissions, coordinatorPermissions, type SubjectPermissions } from './nats-permissions.js';

export type NatsUser = { role: 'coordinator'; publicKey: string } | { role: 'agent'; sender: EventSender; publicKey: string };

/** One line naming a user, for the block's comments and the command's output. */
export function describeUser(user: NatsUser): string {
  return user.role === 'coordinator' ? 'the coordinator' : describeSender(user.sender);
}

function permissionsOf(names: NatsNames, user: NatsUser): SubjectPermissions {
  return user.role === 'coordinator' ? coordinatorPermissions(names) : agentPermissions(names, user.sender);
}

const list = (subjects: readonly string[]) => `[${subjects.map((s) => JSON.stringify(s)).join(', ')}]`;

function userEntry(names: NatsNames, user: NatsUser): string[] {
  const p = permissionsOf(names, user);
  return [
    `    # ${describeUser(user)}`,
    `    { nkey: ${JSON.stringify(user.publicKey)}, permissions: {`,
    `        publish: { allow: ${list(p.publish)} }`,
    `        subscribe: { allow: ${list(p.subscribe)} }`,
    `    } }`,
  ];
}

export function authorizationBlock(names: NatsNames, users: readonly NatsUser[]): string {
  return [
    `# Deltachain's NATS users for namespace "${names.namespace}" (deltachain nats-config): nkeys, so`,
    '# this file holds public keys only; each process keeps its seed. Everything not allowed is refused.',
    'authorization {',
    '  users = [',
    ...users.flatMap((user) => userEntry(names, user)),
    '  ]',
    '}',
    '',
  ].join('\n');
}
