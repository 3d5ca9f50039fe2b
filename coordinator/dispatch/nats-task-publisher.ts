// Publishes tasks on JetStream: a pool's tasks on `<ns>.tasks.host.<pool>`, a remote's on
// `<ns>.tasks.storage.<remote>` (shared/nats/names.ts), with the message id given (task id and
// attempt) for the stream's duplicate window. The queue's consumer is made first when this
// process has not made it yet (task-queue-registry.ts).
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { signatureHeaders, type NatsNames } from '../../shared/nats/index.js';
import type { TaskRecord } from '../catalogue/index.js';
import type { TaskPublisher } from './task-publisher.js';
import type { TaskQueueRegistry } from './task-queue-registry.js';

export class NatsTaskPublisher implements TaskPublisher {
  private readonly js: JetStreamClient;

  constructor(nc: NatsConnection, private readonly names: NatsNames, private readonly queues?: TaskQueueRegistry) {
    this.js = jetstream(nc);
  }

  subjectOf(task: Pick<TaskRecord, 'addressKind' | 'address'>): string {
    return task.addressKind === 'pool' ? this.names.hostTasks(task.address) : this.names.storageTasks(task.address);
  }

  async publish(task: TaskRecord, data: Uint8Array, messageId: string, signature?: string): Promise<void> {
    await this.queues?.ensure(task.addressKind === 'pool' ? 'host' : 'storage', task.address);
    await this.js.publish(this.subjectOf(task), data, { msgID: messageId, ...(signature === undefined ? {} : { headers: signatureHeaders(signature) }) });
  }
}
