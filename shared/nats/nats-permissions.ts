// What each Deltachain user may publish and subscribe to on NATS: allow-lists, so everything
// else is refused by the server. Checked against a real nats-server (test/security-nats*).
//
// The coordinator owns the two streams and every consumer on them: it creates and updates them,
// publishes tasks, and pulls the events stream through its durable consumer.
//
// An agent (host agent of pool P, storage agent of remote R) may only
//   - read its queue's consumer (`$JS.API.CONSUMER.INFO.<TASKS>.<role>-<scope>`),
//   - pull from it (`$JS.API.CONSUMER.MSG.NEXT.<TASKS>.<role>-<scope>`),
//   - acknowledge what it pulled (`$JS.ACK.<TASKS>.<role>-<scope>.>`: ack, nak, in progress),
//   - publish its own events (`<ns>.events.<role>.<scope>.<agent>.*`),
//   - receive replies on its own inbox (`_INBOX.<ns>.<role>.<scope>.<agent>.>`).
// No `$JS.API.STREAM.*`, no consumer create or delete, no task subject, no other inbox: it
// cannot forge a task, read another queue, publish as another agent or read others' replies.
// A pull's messages and a publish's acknowledgement arrive on the agent's inbox, so those five
// are all a pull consumer and a JetStream publisher need.
import type { EventSender, NatsNames } from './names.js';

export interface SubjectPermissions {
  publish: string[];
  subscribe: string[];
}

/** JetStream API subjects (nats-server's `$JS.API` and ack subjects). */
export const jsApi = {
  consumerInfo: (stream: string, consumer: string) => `$JS.API.CONSUMER.INFO.${stream}.${consumer}`,
  nextMessage: (stream: string, consumer: string) => `$JS.API.CONSUMER.MSG.NEXT.${stream}.${consumer}`,
  acks: (stream: string, consumer: string) => `$JS.ACK.${stream}.${consumer}.>`,
};

export function agentPermissions(names: NatsNames, sender: EventSender): SubjectPermissions {
  const stream = names.tasksStream;
  const consumer = names.consumerOf(sender.role, sender.scope);
  return {
    publish: [jsApi.consumerInfo(stream, consumer), jsApi.nextMessage(stream, consumer), jsApi.acks(stream, consumer), names.eventsOf(sender)],
    subscribe: [`${names.agentInbox(sender)}.>`],
  };
}

export function coordinatorPermissions(names: NatsNames): SubjectPermissions {
  const streamApi = (stream: string) => [
    // create, update, info, delete of the stream itself
    `$JS.API.STREAM.*.${stream}`,
    // consumers: create (with or without a filter token), info, delete, list, names
    `$JS.API.CONSUMER.*.${stream}`,
    `$JS.API.CONSUMER.*.${stream}.>`,
    `$JS.API.CONSUMER.DURABLE.CREATE.${stream}.>`,
  ];
  const events = names.eventsStream;
  return {
    publish: [
      names.allTasks,
      '$JS.API.INFO',
      ...streamApi(names.tasksStream),
      ...streamApi(events),
      jsApi.nextMessage(events, names.coordinatorConsumer),
      jsApi.acks(events, names.coordinatorConsumer),
    ],
    subscribe: [`${names.coordinatorInbox}.>`],
  };
}
