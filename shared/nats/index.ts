// NATS for Deltachain: names (subjects, streams, consumers, inboxes), config and connection
// policy, users (nkey seeds, permissions, the server's authorization block), streams and task
// queues, the task consumer, and the envelope codecs.
export { DEFAULT_NAMESPACE, EVENT_KINDS, TOKEN_PATTERN, describeSender, natsNames, type AgentRole, type EventKind, type EventSender, type NatsNames } from './names.js';
export { natsSchema, natsTlsSchema, type NatsConfig } from './nats-config.js';
export { connectionPolicy, isLoopbackServer, type ConnectionPolicy } from './connection-policy.js';
export { connectNats, ensureStreams, deleteStreams, isNotFound, type ConnectNatsOptions } from './connect.js';
export { ensureTaskConsumer, type TaskQueueSettings } from './task-queues.js';
export { agentPermissions, coordinatorPermissions, jsApi, type SubjectPermissions } from './nats-permissions.js';
export { authorizationBlock, describeUser, type NatsUser } from './nats-authorization.js';
export { createUserKey, readSeedFile, userKeyOf, writeSeedFile, type UserKey } from './nkey-seed.js';
export { trustedTasks, type RefusalReport } from './trusted-tasks.js';
export { notRegisteredAdvice, startTaskConsumer, type TaskConsumer, type TaskConsumerOptions, type TaskDelivery, type TaskOutcome } from './task-consumer.js';
export { publishTask, publishSignedTask, signatureHeaders, decodeTask, publishEvent, decodeEvent, type EventBody } from './envelopes.js';
export { agentsOf, ensureSeedFiles, seedFileName, type Registered, type SeedFile } from './nats-users.js';
export { AgentTaskRunner, type Companion, type EventSink, type ProgressPublisher, type ProgressValue, type TaskAcceptance, type TaskOutput, type TaskPayloadCase } from './task-runner.js';
