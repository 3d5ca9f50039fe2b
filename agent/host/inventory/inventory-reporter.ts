// Publishes the pool's VM inventory as an `inventory` event: once at start, then every
// `intervalSeconds`. Each report is read fresh from XAPI (three `get_all_records` calls and
// the pool's uuid) and is complete, so the coordinator can mark VMs missing from it as gone.
// A failed read or publish is logged and tried again at the next tick; reports never overlap.
import type { Logger } from '../../../shared/logging/index.js';
import type { InventoryEvent } from '../../../shared/proto/gen/deltachain/tasks/v1/event.js';
import type { EventSink } from '../../../shared/nats/index.js';
import type { HostXapi } from '../xapi/host-xapi.js';
import type { XapiRef } from '../xapi/xapi-records.js';
import { buildInventory, type InventoryRecords } from './build-inventory.js';

export interface InventoryReporterOptions {
  poolName: string;
  xapi: HostXapi;
  events: EventSink;
  intervalSeconds: number;
  logger: Logger;
}

export async function readInventory(xapi: HostXapi, poolName: string): Promise<InventoryEvent> {
  const [vms, vbds, vdis, pools] = await Promise.all([
    xapi.call<InventoryRecords['vms']>('VM.get_all_records'),
    xapi.call<InventoryRecords['vbds']>('VBD.get_all_records'),
    xapi.call<InventoryRecords['vdis']>('VDI.get_all_records'),
    xapi.call<Record<XapiRef, { uuid: string }>>('pool.get_all_records'),
  ]);
  const poolUuid = Object.values(pools)[0]?.uuid ?? '';
  return { poolName, poolUuid, vms: buildInventory({ vms, vbds, vdis }) };
}

export class InventoryReporter {
  private timer: ReturnType<typeof setInterval> | undefined;
  private current: Promise<void> | undefined;

  constructor(private readonly options: InventoryReporterOptions) {}

  /** Publishes the first report (its failure is logged, not thrown) and starts the timer. */
  async start(): Promise<void> {
    await this.report();
    this.timer = setInterval(() => void this.report(), this.options.intervalSeconds * 1000);
  }

  /** Publishes one report now, unless one is under way (then waits for that one). */
  report(): Promise<void> {
    this.current ??= this.publishOnce().finally(() => (this.current = undefined));
    return this.current;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.current;
  }

  private async publishOnce(): Promise<void> {
    const { xapi, poolName, events, logger } = this.options;
    try {
      const inventory = await readInventory(xapi, poolName);
      await events.publish('', { $case: 'inventory', value: inventory });
      logger.debug({ vms: inventory.vms.length }, 'inventory published');
    } catch (error) {
      logger.warn({ err: error }, 'inventory not published; trying again at the next interval');
    }
  }
}
