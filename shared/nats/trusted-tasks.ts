// The agents' gate in front of their task runners: every task message is checked (shared/
// task-trust: signature, addressee, expiry, replay) before it runs. A refused message is
// acknowledged, so it leaves the queue and is never run, and refused loudly: an error in the
// agent's log and a `refused` event the coordinator logs.
import type { Logger } from '../logging/index.js';
import { TaskRefusedError, type TaskTrust } from '../task-trust/index.js';
import type { TaskDelivery, TaskOutcome } from './task-consumer.js';

export interface RefusalReport {
  claimedTaskId: string;
  /** The refusal's code (RefusalReason). */
  code: string;
  claimedAttempt: number;
  claimedTerm: number;
  reason: string;
  message: string;
  subject: string;
}

export function trustedTasks(
  trust: TaskTrust,
  handler: (delivery: TaskDelivery) => Promise<TaskOutcome>,
  options: { logger: Logger; report: (refusal: RefusalReport) => Promise<void> },
): (delivery: TaskDelivery) => Promise<TaskOutcome> {
  return async (delivery) => {
    try {
      trust.check({ data: delivery.data, signature: delivery.signature, sequence: delivery.sequence ?? 0 });
    } catch (error) {
      if (!(error instanceof TaskRefusedError)) throw error;
      options.logger.error({ subject: delivery.subject, claimedTaskId: error.claimedTaskId, reason: error.reason, delivery: delivery.deliveryCount }, error.message);
      await options
        .report({ claimedTaskId: error.claimedTaskId, code: error.reason, claimedAttempt: error.claimedAttempt, claimedTerm: error.claimedTerm, reason: error.reason, message: error.message, subject: delivery.subject })
        .catch((e: unknown) => options.logger.warn({ err: e }, 'the refusal could not be reported to the coordinator'));
      return 'ack';
    }
    return handler(delivery);
  };
}
