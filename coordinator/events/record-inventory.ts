// Applies an inventory event to the catalogue (catalogue/vm-inventory.ts: upsert the reported
// VMs, mark the pool's others gone). A report for a pool the catalogue does not know is logged
// and dropped — redelivering it would not help, and the agent reports again every interval, so
// the pool's VMs appear at the next report once an operator adds the pool. Idempotent.
import { applyInventory, NotFoundError, type Catalogue } from '../catalogue/index.js';
import type { Logger } from '../../shared/logging/index.js';
import type { AgentEvent } from './agent-event.js';

export async function recordInventory(sql: Catalogue, event: Extract<AgentEvent, { type: 'inventory' }>, logger: Logger): Promise<void> {
  const { inventory } = event;
  try {
    const outcome = await applyInventory(sql, inventory);
    if (outcome.claimedElsewhere.length > 0) {
      logger.warn({ pool: inventory.poolName, agent: event.sender.agent, vms: outcome.claimedElsewhere }, 'inventory lists VMs another pool still has; left in their pool');
    }
    logger.debug({ pool: inventory.poolName, agent: event.sender.agent, vms: outcome.upserted, gone: outcome.gone }, 'inventory recorded');
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
    logger.warn({ pool: inventory.poolName, agent: event.sender.agent, err: error }, 'inventory of an unknown pool ignored');
  }
}
