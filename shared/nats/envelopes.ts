// Publishing and decoding the task and event envelopes (proto/deltachain/tasks/v1) on
// JetStream. The NATS message id is the task id (or event id), so JetStream drops a repeat
// published within the stream's duplicate window.
import { randomUUID } from 'node:crypto';
import { jetstream } from '@nats-io/jetstream';
import { headers, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';
import type { Signer } from '../signing/index.js';
import { TASK_SIGNATURE_HEADER, signTask } from '../task-trust/index.js';
import { Event } from '../proto/gen/deltachain/tasks/v1/event.js';
import { Task } from '../proto/gen/deltachain/tasks/v1/task.js';
import type { EventKind, EventSender, NatsNames } from './names.js';

/**
 * Publishes a task; with `signer` (the coordinator's key) signed as agents require
 * (shared/task-trust): `signedAtMs` set to now and `expiresAtMs`, when 0, to an hour from now.
 */
export async function publishTask(nc: NatsConnection, subject: string, task: Task, signer?: Signer): Promise<void> {
  if (signer === undefined) {
    await jetstream(nc).publish(subject, Task.encode(task).finish(), { msgID: task.taskId });
    return;
  }
  const now = Date.now();
  const data = Task.encode({ ...task, signedAtMs: now, expiresAtMs: task.expiresAtMs || now + 3600_000 }).finish();
  await publishSignedTask(nc, subject, data, signTask(signer, data), task.taskId);
}

/** Publishes encoded task bytes with their signature header. */
export async function publishSignedTask(nc: NatsConnection, subject: string, data: Uint8Array, signature: string, messageId: string): Promise<void> {
  await jetstream(nc).publish(subject, data, { msgID: messageId, headers: signatureHeaders(signature) });
}

/** The NATS headers that carry a task's signature. */
export function signatureHeaders(signature: string): MsgHdrs {
  const h = headers();
  h.set(TASK_SIGNATURE_HEADER, signature);
  return h;
}

export function decodeTask(data: Uint8Array): Task {
  return Task.decode(data);
}

export type EventBody = NonNullable<Event['body']>;

/**
 * Publishes an event as `sender` (on its own subject, the only one its NATS user may publish
 * on); returns it. The subject's kind follows the body. The body's agent id and time are for
 * people reading it: the coordinator takes the sender from the subject and the time from the stream.
 */
export async function publishEvent(nc: NatsConnection, names: NatsNames, sender: EventSender, taskId: string, body: EventBody, now = Date.now()): Promise<Event> {
  const event: Event = { eventId: randomUUID(), taskId, agentId: sender.agent, emittedAtMs: now, body };
  const kind: EventKind = body.$case;
  await jetstream(nc).publish(names.event(sender, kind), Event.encode(event).finish(), { msgID: event.eventId });
  return event;
}

export function decodeEvent(data: Uint8Array): Event {
  return Event.decode(data);
}
