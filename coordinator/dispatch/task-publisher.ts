// The one thing the dispatcher needs from the transport: put a task on its agent's queue.
import type { TaskRecord } from '../catalogue/index.js';

export interface TaskPublisher {
  /**
   * Publishes the encoded task to the queue of its address (a pool's host agents or a remote's
   * storage agent) with `messageId` for the server's deduplication. Resolves once the server
   * has stored it. `signature`: the coordinator's signature of `data`, sent as its header.
   */
  publish(task: TaskRecord, data: Uint8Array, messageId: string, signature?: string): Promise<void>;
}
