// NATS for Deltachain: names (subjects, streams, consumers), config, connection and streams,
// the task consumer, and the envelope codecs.
export { DEFAULT_NAMESPACE, TOKEN_PATTERN, natsNames, type EventKind, type NatsNames } from './names.js';
export { natsSchema, type NatsConfig } from './nats-config.js';
export { connectNats, ensureStreams, deleteStreams, isNotFound } from './connect.js';
export { startTaskConsumer, type TaskConsumer, type TaskConsumerOptions, type TaskDelivery, type TaskOutcome } from './task-consumer.js';
export { publishTask, decodeTask, publishEvent, decodeEvent, type EventBody } from './envelopes.js';
